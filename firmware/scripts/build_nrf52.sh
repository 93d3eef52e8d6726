#!/usr/bin/env bash
# Compile the XIAO nRF52840 sketch the way the Arduino IDE does, against a real Arduino nRF52
# core, and report flash/RAM use and the sketch's own compiler warnings.
#
#   firmware/scripts/build_nrf52.sh [CORE_DIR]      (or MYOTWITCH_NRF52_CORE=CORE_DIR)
#
# CORE_DIR is the platform folder holding platform.txt and boards.txt, e.g. what the Boards
# Manager installs as ~/.arduino15/packages/Seeeduino/hardware/nrf52/1.1.8 ("Seeed nRF52
# Boards"), or a checkout of Seeed-Studio/Adafruit_nRF52_Arduino with its submodules
# (libraries/Adafruit_TinyUSB_Arduino, libraries/Adafruit_nRFCrypto) checked out.
#
# The build itself is arduino-builder (Debian package, the IDE 1.8 builder): it reads the core's
# platform.txt/boards.txt recipes, generates prototypes for the .ino with ctags, adds
# #include <Arduino.h>, finds the libraries the sketch uses and compiles the core, the variant
# and src/. On top of the core's own flags the sketch is held to -Wall -Wextra -Wconversion.
#
# Environment (all optional):
#   MYOTWITCH_CMSIS          CMSIS 5.7.0 root (holding CMSIS/Core/Include); default: the
#                            Boards Manager's tools/CMSIS/5.7.0 next to the core, if present
#   MYOTWITCH_NRF52_FQBN     default Seeeduino:nrf52:xiaonRF52840:softdevice=s140v6,debug=l0
#   MYOTWITCH_NRF52_BUILD    build folder; default firmware/build/nrf52
#   MYOTWITCH_NRF52_WERROR=1 exit 3 if the sketch has any warning
#   MYOTWITCH_NRF52_SKETCH   another .ino to build (default: boards/xiao_nrf52840/xiao_nrf52840.ino)
# The toolchain is the arm-none-eabi-gcc on PATH (Debian: gcc-arm-none-eabi,
# libnewlib-arm-none-eabi, libstdc++-arm-none-eabi-newlib).
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"   # firmware/
sketch="${MYOTWITCH_NRF52_SKETCH:-$here/boards/xiao_nrf52840/xiao_nrf52840.ino}"
core="${1:-${MYOTWITCH_NRF52_CORE:-}}"
fqbn="${MYOTWITCH_NRF52_FQBN:-Seeeduino:nrf52:xiaonRF52840:softdevice=s140v6,debug=l0}"
build="${MYOTWITCH_NRF52_BUILD:-$here/build/nrf52}"

die() { echo "build_nrf52: $*" >&2; exit 2; }
[ -n "$core" ] || die "no core given: pass the nRF52 core folder (with platform.txt) or set MYOTWITCH_NRF52_CORE"
core="$(cd "$core" 2>/dev/null && pwd)" || die "core folder '$1' does not exist"
[ -f "$core/platform.txt" ] && [ -f "$core/boards.txt" ] || die "$core has no platform.txt/boards.txt: not an Arduino core folder"
[ -f "$core/libraries/Adafruit_TinyUSB_Arduino/src/Adafruit_TinyUSB.h" ] ||
  die "$core/libraries/Adafruit_TinyUSB_Arduino is empty: check out the core's git submodules"
command -v arduino-builder >/dev/null || die "arduino-builder not found (Debian: apt-get install arduino-builder arduino-ctags)"
gcc_bin="$(command -v arm-none-eabi-gcc)" || die "arm-none-eabi-gcc not found (Debian: gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib)"
gcc_root="$(dirname "$(dirname "$(readlink -f "$gcc_bin")")")"

cmsis="${MYOTWITCH_CMSIS:-}"
if [ -z "$cmsis" ]; then
  for c in "$core"/../../../tools/CMSIS/5.7.0 "$core"/../CMSIS-5.7.0 "$core"/../../CMSIS-5.7.0; do
    [ -d "$c/CMSIS/Core/Include" ] && { cmsis="$(cd "$c" && pwd)"; break; }
  done
fi
[ -n "$cmsis" ] && [ -f "$cmsis/CMSIS/Core/Include/core_cm4.h" ] ||
  die "CMSIS 5.7.0 headers not found: set MYOTWITCH_CMSIS to a folder holding CMSIS/Core/Include (ARM-software/CMSIS_5 tag 5.7.0)"

vendor="${fqbn%%:*}"; rest="${fqbn#*:}"; arch="${rest%%:*}"
mkdir -p "$build/out" "$build/hardware/$vendor"
ln -sfn "$core" "$build/hardware/$vendor/$arch"
prefs=(
  "-prefs=runtime.tools.arm-none-eabi-gcc.path=$gcc_root"
  "-prefs=runtime.tools.CMSIS-5.7.0.path=$cmsis"
  "-prefs=compiler.warning_flags.all=-Wall -Wextra -Wconversion -Werror=return-type"
  # the .zip for DFU upload needs adafruit-nrfutil; the .elf and .hex are what we measure
  "-prefs=tools.nrfutil.cmd=true"
)
# The CMSIS-DSP library is linked but unused by the sketch; a git checkout without LFS holds
# only a pointer file, so leave it out then (the link would name any missing symbol).
dsp="$cmsis/CMSIS/DSP/Lib/GCC/libarm_cortexM4lf_math.a"
if [ "$(head -c 7 "$dsp" 2>/dev/null)" != "!<arch>" ]; then
  echo "note: $dsp is not a library (git-lfs pointer?); linking without CMSIS-DSP" >&2
  prefs+=("-prefs=compiler.arm.cmsis.ldflags=")
fi
# arduino-builder 1.3 predates precompiled libraries (library.properties precompiled=true):
# pass their ldflags the way arduino-cli does, from src/<mcu>/<fpu>-<float-abi>.
ldflags=""
for props in "$core"/libraries/*/library.properties; do
  grep -q '^precompiled=true' "$props" || continue
  libdir="$(dirname "$props")/src/cortex-m4/fpv4-sp-d16-hard"
  flags="$(sed -n 's/^ldflags=//p' "$props")"
  [ -d "$libdir" ] && [ -n "$flags" ] && ldflags="$ldflags -L$libdir $flags"
done
[ -n "$ldflags" ] && prefs+=("-prefs=compiler.libraries.ldflags=${ldflags# }")

log="$build/build.log"
echo "building $sketch"
echo "  core  $core ($(sed -n 's/^name=//p' "$core/platform.txt") $(sed -n 's/^version=//p' "$core/platform.txt"))"
echo "  board $fqbn   toolchain $("$gcc_bin" -dumpversion) at $gcc_root"
status=0
arduino-builder -compile -verbose -warnings all \
  -hardware /usr/share/arduino-builder -hardware "$build/hardware" -tools /usr/bin \
  -fqbn "$fqbn" -build-path "$build/out" "${prefs[@]}" "$sketch" >"$log" 2>&1 || status=$?
# the sketch's own warnings: the .ino (via #line) and its src/ copied into the build folder
sketch_dir="$(dirname "$sketch")"
grep -E "^($sketch_dir|$build/out/sketch)/[^:]*:[0-9]+:[0-9]+: warning:" "$log" | sort -u >"$build/sketch-warnings.txt" || true
n_warn=$(wc -l <"$build/sketch-warnings.txt")
if [ "$status" -ne 0 ]; then
  grep -E "error|Error" "$log" | head -30 >&2
  echo "build_nrf52: FAILED (exit $status); full log: $log" >&2
  exit 1
fi
elf="$build/out/$(basename "$sketch").elf"
arm-none-eabi-size -A "$elf" | grep -E '^(section|\.text|\.data|\.bss|\.heap)'
board="${fqbn#*:*:}"; board="${board%%:*}"
max_flash=$(sed -n "s/^$board\.upload\.maximum_size=//p" "$core/boards.txt")
max_ram=$(sed -n "s/^$board\.upload\.maximum_data_size=//p" "$core/boards.txt")
read -r text data bss < <(arm-none-eabi-size -A "$elf" | awk '$1==".text"{t=$2} $1==".data"{d=$2} $1==".bss"{b=$2} END{print t+0, d+0, b+0}')
echo "flash: $((text + data)) bytes (.text + .data) of ${max_flash:-?}"
echo "ram:   $((data + bss)) bytes (.data + .bss) of ${max_ram:-?}"
cat "$build/sketch-warnings.txt"
echo "sketch warnings (-Wall -Wextra -Wconversion): $n_warn"
if [ "${MYOTWITCH_NRF52_WERROR:-0}" = 1 ] && [ "$n_warn" -gt 0 ]; then exit 3; fi
