# The one list of Debian packages pvmfw-mmu needs, sourced by scripts/setup.sh (installs them all)
# and scripts/install-code-server.sh (checks its part). The self-check (scripts/selfcheck.mjs) names
# the package behind each file it finds missing: keep its table in step with these lists.

# QEMU and the firmware files a user of `-M virt` expects: Debian's qemu-system-arm only *recommends*
# them, and an install without recommends has no efi-virtio.rom (the option ROM of virt's default NIC)
# and no AAVMF UEFI firmware. Our own command lines pass `-nic none`; users' command lines may not.
QEMU_PACKAGES=(qemu-system-arm ipxe-qemu qemu-efi-aarch64)
# The demo firmware and the test fixtures (built from source), the binutils oracle of the ELF/DWARF
# tests, and gdb for cross-checks against GDB itself.
# Debian's rustc and rust-src build the Rust fixture (test/fixtures/rust-opt) for aarch64-unknown-none:
# no prebuilt core exists for that target, so the tests compile core from rust-src once.
TOOLCHAIN_PACKAGES=(gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu make gdb-multiarch rustc rust-src)
# code-server's native modules build from source (kerberos needs gssapi headers; node-gyp needs
# python3 and a compiler); Debian's ripgrep stands in for the one @vscode/ripgrep would download;
# Chromium runs the UI tests.
CODE_SERVER_PACKAGES=(chromium libkrb5-dev ripgrep build-essential python3)
# setpriv ties a launched QEMU to the adapter's life (parent-death signal); curl checks code-server.
SYSTEM_PACKAGES=(util-linux curl)

APT_PACKAGES=("${QEMU_PACKAGES[@]}" "${TOOLCHAIN_PACKAGES[@]}" "${CODE_SERVER_PACKAGES[@]}" "${SYSTEM_PACKAGES[@]}")
