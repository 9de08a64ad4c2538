//! The platform and the way an NMI reaches it.

use crate::doctor::{Check, Context};

pub fn check(ctx: &Context) -> Check {
    const ID: &str = "platform.nmi";
    let p = &ctx.platform;
    match &p.nmi_route {
        Some(route) => Check::pass(ID, format!("{}; NMI: `{route}` ({})", p.description, p.nmi_note)),
        None => Check::warn(ID, format!("{}: {}", p.description, p.nmi_note)).fix(
            "rely on the panic settings and the console's sysrq-c; where the platform allows, move to one that can deliver an NMI (on EC2 a Nitro-based instance type)",
        ),
    }
}
