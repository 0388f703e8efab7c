#!/usr/bin/env bash
# System libraries Session Lab needs beyond its Python packages: PortAudio, which
# sounddevice loads for audition (it pulls in libasound2, ALSA's library).
#
# Idempotent and non-interactive; silent when nothing is missing. As root on a
# Debian-like machine it installs what is missing (apt-get update + install);
# otherwise it prints one line saying what to install and exits 0, so that
# `make test` still runs and the playback tests say what is wrong.
#
# It changes no ALSA configuration: the tests point ALSA_CONFIG_PATH at
# tests/asound-null.conf for their own process only, so a machine without a
# sound card gets a null output device and a real user's sound is left alone.
set -euo pipefail

[ "$(uname -s)" = "Linux" ] || exit 0 # the sounddevice wheels bundle PortAudio on macOS and Windows

have_portaudio() {
    local ldconfig
    ldconfig="$(command -v ldconfig || true)"
    [ -n "$ldconfig" ] || ldconfig=/sbin/ldconfig
    [ -x "$ldconfig" ] && "$ldconfig" -p 2>/dev/null | grep -q 'libportaudio\.so'
}

have_portaudio && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "setup-system: PortAudio is missing (audition will not work); install it, e.g. 'sudo apt-get install libportaudio2'." >&2
    exit 0
fi

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive
apt_get() {
    apt-get -o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0 -q -y "$@" </dev/null >>"$log" 2>&1
}
if ! { apt_get update && apt_get install --no-install-recommends libportaudio2; }; then
    cat "$log" >&2
    echo "setup-system: could not install libportaudio2 (see above)." >&2
    exit 1
fi
if ! have_portaudio; then
    echo "setup-system: libportaudio2 was installed but its library is not in the linker cache." >&2
    exit 1
fi
