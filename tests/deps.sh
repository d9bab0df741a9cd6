#!/usr/bin/env bash
# Installs the Debian 12 packages pgrpo needs (as root), or prints the exact command (otherwise).
# Quiet and quick when everything is already there.
set -euo pipefail
PKGS="build-essential pkg-config libopenmpi-dev openmpi-bin libhdf5-openmpi-dev hdf5-tools libscalapack-openmpi-dev
libopenblas-dev liblapacke-dev slurm-wlm munge python3-h5py python3-numpy python3-matplotlib python3-torch python3-sklearn python3-regex libjansson-dev procps"
missing=()
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "pgrpo: missing Debian packages: ${missing[*]}" >&2
    echo "pgrpo: install them as root with:" >&2
    echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
    exit 2
fi
echo "pgrpo: installing ${#missing[@]} Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
echo "pgrpo: packages installed"
