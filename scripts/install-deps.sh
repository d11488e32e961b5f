#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs tconv's build and test dependencies from Debian 12 packages.
# Idempotent: does nothing when everything is present. Needs root or sudo.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libltdl-dev            # plugin loading
  libcmocka-dev          # tests
  ocl-icd-opencl-dev opencl-c-headers  # OpenCL ICD loader and headers
  pocl-opencl-icd clinfo # OpenCL on the CPU (tests run the OpenCL backend on it)
)
# Optional: oneDNN, only for the side-by-side benchmark (tconv-bench).
if [ "${TCONV_WITH_ONEDNN:-0}" = 1 ]; then packages+=(libdnnl-dev); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all dependencies present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
