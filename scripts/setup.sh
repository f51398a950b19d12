#!/usr/bin/env bash
# Installs, from Debian's archive, only the packages tkfac needs that are missing. Safe to run
# again: when everything is present it installs nothing and does not touch apt.
set -euo pipefail

packages=(
  g++ cmake make pkg-config
  ngspice libngspice0-dev
  libeigen3-dev libfmt-dev doctest-dev libcli11-dev zlib1g-dev
  libopenblas-dev liblapack-dev
  gnuplot-nox nlohmann-json3-dev
  pybind11-dev python3-dev python3-numpy python3-pytest
  dataset-fashion-mnist
  libopenmpi-dev openmpi-bin
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  sudo_cmd=(sudo)
fi
"${sudo_cmd[@]}" apt-get update -q
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
