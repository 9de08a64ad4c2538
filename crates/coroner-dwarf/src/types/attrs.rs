//! The attributes of one DIE that the type reader uses, collected in one pass
//! over its attribute list (looking each up separately would rescan the list).

use gimli::{constants, AttributeValue, DwAte};

use crate::{DwarfError, Reader};

/// A constant whose width matters: `DW_FORM_data1..8` carry no sign, so an
/// enumerator or a bound is read according to what it belongs to.
#[derive(Clone, Copy, Debug)]
pub(super) enum Constant {
    Signed(i64),
    Unsigned(u64),
    /// `DW_FORM_dataN`: the value and N.
    Data(u64, u8),
}

#[derive(Default)]
pub(super) struct Attrs<'data> {
    pub name: Option<&'data str>,
    /// Global `.debug_info` offset of `DW_AT_type`.
    pub ty: Option<usize>,
    pub byte_size: Option<u64>,
    pub encoding: Option<DwAte>,
    pub declaration: bool,
    pub member_location: Option<u64>,
    /// DWARF 2/3 bitfields: bits from the most significant bit of the storage unit.
    pub bit_offset: Option<i64>,
    pub data_bit_offset: Option<u64>,
    pub bit_size: Option<u64>,
    pub const_value: Option<Constant>,
    pub count: Option<Constant>,
    pub upper_bound: Option<Constant>,
    pub lower_bound: Option<Constant>,
    pub location: Option<Reader<'data>>,
    /// `DW_AT_specification` or `DW_AT_abstract_origin`: another DIE completes this one.
    pub origin: Option<usize>,
}

fn constant(value: &AttributeValue<Reader<'_>>) -> Option<Constant> {
    Some(match *value {
        AttributeValue::Sdata(v) => Constant::Signed(v),
        AttributeValue::Udata(v) => Constant::Unsigned(v),
        AttributeValue::Data1(v) => Constant::Data(v.into(), 1),
        AttributeValue::Data2(v) => Constant::Data(v.into(), 2),
        AttributeValue::Data4(v) => Constant::Data(v.into(), 4),
        AttributeValue::Data8(v) => Constant::Data(v, 8),
        _ => return None,
    })
}

impl Constant {
    /// The value read as unsigned; `None` when negative.
    pub fn unsigned(self) -> Option<u64> {
        match self {
            Constant::Signed(v) => u64::try_from(v).ok(),
            Constant::Unsigned(v) | Constant::Data(v, _) => Some(v),
        }
    }

    /// The value read as signed: `DW_FORM_dataN` sign-extends from N bytes.
    pub fn signed(self) -> i128 {
        match self {
            Constant::Signed(v) => v.into(),
            Constant::Unsigned(v) => v.into(),
            Constant::Data(v, n) => {
                let shift = 64 - 8 * u32::from(n);
                i128::from(((v << shift) as i64) >> shift)
            }
        }
    }
}

/// Reads `entry`'s attributes; `at` is its global offset, for errors.
pub(super) fn read<'data>(
    dwarf: &gimli::Dwarf<Reader<'data>>,
    unit: &gimli::Unit<Reader<'data>>,
    entry: &gimli::DebuggingInformationEntry<Reader<'data>>,
    at: usize,
) -> Result<Attrs<'data>, DwarfError> {
    let fail = |what: String| DwarfError::new(".debug_info", at as u64, what);
    let mut attrs = Attrs::default();
    let mut iter = entry.attrs();
    while let Some(attr) = iter.next().map_err(|e| DwarfError::info(at as u64, e))? {
        let value = attr.value();
        match attr.name() {
            constants::DW_AT_name => {
                let bytes = dwarf
                    .attr_string(unit, value)
                    .map_err(|e| fail(format!("DW_AT_name: {e}")))?;
                let text = std::str::from_utf8(bytes.slice())
                    .map_err(|_| fail("DW_AT_name is not UTF-8".into()))?;
                attrs.name = Some(text);
            }
            constants::DW_AT_type => attrs.ty = Some(reference(unit, &value, at)?),
            constants::DW_AT_specification | constants::DW_AT_abstract_origin => {
                attrs.origin = Some(reference(unit, &value, at)?)
            }
            constants::DW_AT_byte_size => attrs.byte_size = value.udata_value(),
            constants::DW_AT_bit_size => attrs.bit_size = value.udata_value(),
            constants::DW_AT_bit_offset => attrs.bit_offset = value.sdata_value(),
            constants::DW_AT_data_bit_offset => attrs.data_bit_offset = value.udata_value(),
            constants::DW_AT_encoding => {
                if let AttributeValue::Encoding(e) = value {
                    attrs.encoding = Some(e);
                }
            }
            constants::DW_AT_declaration => {
                attrs.declaration = value != AttributeValue::Flag(false)
            }
            constants::DW_AT_data_member_location => {
                attrs.member_location = Some(match value {
                    AttributeValue::Exprloc(e) => plus_uconst(e.0).ok_or_else(|| {
                        fail("unsupported DW_AT_data_member_location expression".into())
                    })?,
                    other => other.udata_value().ok_or_else(|| {
                        fail(format!("unsupported DW_AT_data_member_location {other:?}"))
                    })?,
                })
            }
            constants::DW_AT_const_value => attrs.const_value = constant(&value),
            constants::DW_AT_count => attrs.count = constant(&value),
            constants::DW_AT_upper_bound => attrs.upper_bound = constant(&value),
            constants::DW_AT_lower_bound => attrs.lower_bound = constant(&value),
            constants::DW_AT_location => {
                if let AttributeValue::Exprloc(e) = value {
                    attrs.location = Some(e.0);
                }
            }
            _ => {}
        }
    }
    Ok(attrs)
}

/// A reference attribute as a global `.debug_info` offset.
fn reference(
    unit: &gimli::Unit<Reader<'_>>,
    value: &AttributeValue<Reader<'_>>,
    at: usize,
) -> Result<usize, DwarfError> {
    let global = match *value {
        AttributeValue::UnitRef(offset) => offset.to_debug_info_offset(&unit.header),
        AttributeValue::DebugInfoRef(offset) => Some(offset),
        _ => None,
    };
    global.map(|o| o.0).ok_or_else(|| {
        DwarfError::new(
            ".debug_info",
            at as u64,
            format!("unsupported reference {value:?}"),
        )
    })
}

/// DWARF 2's member offsets: `DW_OP_plus_uconst N` (or `DW_OP_constu N`).
fn plus_uconst(mut expr: Reader<'_>) -> Option<u64> {
    use gimli::Reader as _;
    let op = expr.read_u8().ok()?;
    if op != constants::DW_OP_plus_uconst.0 && op != constants::DW_OP_constu.0 {
        return None;
    }
    let value = expr.read_uleb128().ok()?;
    expr.is_empty().then_some(value)
}

/// A variable's static address: a location that is exactly `DW_OP_addr A`.
pub(super) fn static_address(mut expr: Reader<'_>, address_size: u8) -> Option<u64> {
    use gimli::Reader as _;
    if expr.read_u8().ok()? != constants::DW_OP_addr.0 {
        return None;
    }
    let address = expr.read_address(address_size).ok()?;
    expr.is_empty().then_some(address)
}
