# gdb -batch -ex "source gdb-members.py" kvm.ko: every member (through anonymous
# members) of some kvm structs, as "type.member bit_offset bitfield_size", and
# "type.SIZE bits 0"; see README.md.
import gdb
out = {}
for tname in ["kvm", "kvm_vcpu", "kvm_memory_slot", "kvm_mmu", "kvm_vcpu_arch", "kvm_arch", "kvm_x86_ops", "kvm_mmu_page", "kvm_lapic", "kvm_pit"]:
    try:
        t = gdb.lookup_type("struct " + tname)
    except gdb.error:
        continue
    def walk(t, base):
        for f in t.fields():
            if f.name is None or f.name == "":
                walk(f.type.strip_typedefs(), base + f.bitpos)
            else:
                out.setdefault(tname + "." + f.name, [base + f.bitpos, f.bitsize])
    walk(t, 0)
    out[tname + ".SIZE"] = [t.sizeof * 8, 0]
for key in sorted(out):
    print(key, *out[key])
