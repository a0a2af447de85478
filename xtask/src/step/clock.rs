//! A shifted clock for one step: every program the step runs sees it, Go binaries included.
//!
//! libfaketime alone reaches only programs that ask libc for the time; Go programs (docker, notary,
//! cosign, notation) read it through the vDSO and ignore it. qemu's user-mode emulator offers its
//! guest no vDSO (qemu 7.2), so an emulated Go program asks the kernel through qemu, and qemu asks
//! libc: preloading libfaketime into qemu itself shifts the guest's time. `-U LD_PRELOAD` keeps the
//! preload out of the guest's environment. The emulator runs the host's own architecture, so it is
//! slow only by the translation (a step with a trusted pull took 1.3–5 s instead of ~0.2 s here).
//!
//! Runtime contract, the same for the Debian and the Nix client image:
//! - `qemu-x86_64` or `qemu-aarch64` (the host's architecture) on PATH, dynamically linked, so that
//!   LD_PRELOAD reaches it;
//! - libfaketime at `$TRUST_SANDBOX_LIBFAKETIME`, which an image may set; unset, the Debian path
//!   `/usr/lib/<arch>-linux-gnu/faketime/libfaketime.so.1`.

use anyhow::{bail, Result};

use crate::util::shell_quote;

/// The Go programs of the client image, which only the emulator can shift.
pub const GO_PROGRAMS: &[&str] = &["docker", "notary"];

/// The variable an image sets when its libfaketime is not at the Debian path.
pub const LIBFAKETIME_ENV: &str = "TRUST_SANDBOX_LIBFAKETIME";

/// The processor architectures the emulator is picked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    X86_64,
    Aarch64,
}

impl Arch {
    /// The architecture this xtask was built for, which is the one the engine's containers run.
    pub fn host() -> Result<Arch> {
        match std::env::consts::ARCH {
            "x86_64" => Ok(Arch::X86_64),
            "aarch64" => Ok(Arch::Aarch64),
            other => {
                bail!("a step's `clock` needs qemu user-mode for the host's architecture; {other} is not supported (x86_64, aarch64)")
            }
        }
    }

    /// qemu's user-mode emulator for this architecture.
    pub fn emulator(self) -> &'static str {
        match self {
            Arch::X86_64 => "qemu-x86_64",
            Arch::Aarch64 => "qemu-aarch64",
        }
    }

    /// Where Debian installs libfaketime for this architecture.
    pub fn debian_libfaketime(self) -> &'static str {
        match self {
            Arch::X86_64 => "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
            Arch::Aarch64 => "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
        }
    }
}

/// Shell lines that find the emulator and libfaketime, or stop with one clear line (exit 125).
fn locate(arch: Arch) -> String {
    let (emu, lib) = (arch.emulator(), arch.debian_libfaketime());
    format!(
        "ts_faketime=\"${{{LIBFAKETIME_ENV}:-{lib}}}\"\n\
         command -v {emu} >/dev/null || {{ echo \"clock: {emu} is not installed in this container\" >&2; exit 125; }}\n\
         [ -r \"$ts_faketime\" ] || {{ echo \"clock: no libfaketime at $ts_faketime (set {LIBFAKETIME_ENV})\" >&2; exit 125; }}\n"
    )
}

/// What the `faketime` capability check runs in a container: exit 0 when `wrap` can work there.
pub fn probe_script(arch: Arch) -> String {
    format!("{}echo \"clock: {} and $ts_faketime\"", locate(arch), arch.emulator())
}

/// `script` run with the clock at `offset` (libfaketime's syntax: "+15d", "-2h",
/// "@2030-01-01 00:00:00"). libc programs get libfaketime preloaded; each of `programs` found on
/// PATH is shadowed, for this script only, by a shim that runs it under the emulator. The
/// monotonic clock stays real, so timeouts and sleeps behave (a frozen absolute time would
/// otherwise stop them).
pub fn wrap(script: &str, offset: &str, arch: Arch, programs: &[&str]) -> String {
    let emu = arch.emulator();
    let mut s = format!("# clock {offset}: libfaketime for libc programs, {emu} for {}\n", programs.join(" "));
    s.push_str(&locate(arch));
    s.push_str("ts_shims=$(mktemp -d) && trap 'rm -rf \"$ts_shims\"' EXIT\n");
    s.push_str(&format!("for ts_p in {}; do\n", programs.join(" ")));
    s.push_str("  ts_real=$(command -v \"$ts_p\") || continue\n");
    s.push_str(&format!(
        "  printf '#!/bin/sh\\nexec {emu} -U LD_PRELOAD %s \"$@\"\\n' \"$ts_real\" > \"$ts_shims/$ts_p\"\n"
    ));
    s.push_str("  chmod +x \"$ts_shims/$ts_p\"\ndone\n");
    s.push_str(&format!(
        "export PATH=\"$ts_shims:$PATH\" FAKETIME={} FAKETIME_DONT_FAKE_MONOTONIC=1 LD_PRELOAD=\"$ts_faketime\"\n",
        shell_quote(offset)
    ));
    s.push_str(&format!("sh -c {}", shell_quote(script)));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_programs_run_under_the_hosts_emulator_with_libfaketime_in_the_emulator_only() {
        let s = wrap("docker pull x", "+15d", Arch::X86_64, GO_PROGRAMS);
        assert!(s.contains("for ts_p in docker notary; do"), "{s}");
        assert!(s.contains(r#"exec qemu-x86_64 -U LD_PRELOAD %s "$@""#), "{s}");
        assert!(s.contains("LD_PRELOAD=\"$ts_faketime\""), "{s}");
        assert!(s.contains("FAKETIME='+15d' FAKETIME_DONT_FAKE_MONOTONIC=1"), "{s}");
        assert!(s.ends_with("sh -c 'docker pull x'"), "{s}");
        assert!(!s.contains("aarch64"), "{s}");
    }

    #[test]
    fn aarch64_hosts_get_their_own_emulator_and_library() {
        let s = wrap("true", "+1d", Arch::Aarch64, GO_PROGRAMS);
        assert!(s.contains("exec qemu-aarch64 -U LD_PRELOAD"), "{s}");
        assert!(s.contains("command -v qemu-aarch64 "), "{s}");
        assert!(
            s.contains("${TRUST_SANDBOX_LIBFAKETIME:-/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1}"),
            "{s}"
        );
        assert!(!s.contains("x86_64"), "{s}");
    }

    #[test]
    fn the_image_can_point_at_its_own_libfaketime() {
        let s = wrap("true", "+1d", Arch::X86_64, GO_PROGRAMS);
        assert!(s.contains(
            "ts_faketime=\"${TRUST_SANDBOX_LIBFAKETIME:-/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1}\""
        ));
        assert!(s.contains("clock: no libfaketime at $ts_faketime (set TRUST_SANDBOX_LIBFAKETIME)"), "{s}");
        assert!(s.contains("clock: qemu-x86_64 is not installed in this container"), "{s}");
    }

    #[test]
    fn other_callers_name_their_own_programs() {
        let s = wrap("cosign verify x", "+2y", Arch::X86_64, &["cosign", "notation"]);
        assert!(s.contains("for ts_p in cosign notation; do"), "{s}");
        assert!(s.starts_with("# clock +2y: libfaketime for libc programs, qemu-x86_64 for cosign notation\n"));
    }

    #[test]
    fn quotes_in_the_script_and_spaces_in_the_offset_survive() {
        let s = wrap("echo 'hi'", "@2030-01-01 00:00:00", Arch::X86_64, GO_PROGRAMS);
        assert!(s.ends_with(r#"sh -c 'echo '\''hi'\'''"#), "{s}");
        assert!(s.contains("FAKETIME='@2030-01-01 00:00:00' "), "{s}");
    }

    #[test]
    fn the_wrapped_script_is_valid_sh() {
        for arch in [Arch::X86_64, Arch::Aarch64] {
            let s = wrap("set -e\necho \"$HOME\" 'x'\ndocker pull a:b", "-1088d", arch, GO_PROGRAMS);
            let status = std::process::Command::new("sh").args(["-n", "-c", &s]).status().unwrap();
            assert!(status.success(), "{s}");
        }
    }

    #[test]
    fn the_probe_checks_what_the_wrap_needs() {
        let p = probe_script(Arch::X86_64);
        assert!(p.contains("command -v qemu-x86_64 >/dev/null || "), "{p}");
        assert!(p.contains("[ -r \"$ts_faketime\" ]"), "{p}");
    }

    #[test]
    fn the_host_architecture_is_known_here() {
        // The machines this project runs on are x86_64 or aarch64; anything else is refused by name.
        let arch = Arch::host().unwrap();
        assert!(["qemu-x86_64", "qemu-aarch64"].contains(&arch.emulator()));
    }
}
