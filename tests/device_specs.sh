#!/bin/sh
# Device specs that name several devices, or a kind none of them is, on
# ICD folders of the build tree (PoCL alone; PoCL beside Oclgrind, which
# reports itself as a GPU). Usage:
#   device_specs.sh CLGRAD_LINREG POCL_ONLY_DIR [POCL_AND_OCLGRIND_DIR]
set -u
linreg=$1
fail() { echo "FAIL: $1" >&2; exit 1; }
run() { out=$("$linreg" --rows 10 --steps 1 "$@" 2>&1); rc=$?; echo "--device $2: $out" | head -3; }

# PoCL with two devices: 'pocl' names both, neither a GPU: an error listing them
POCL_DEVICES="pthread pthread" OCL_ICD_VENDORS=$2 run --device pocl
[ $rc -ne 0 ] || fail "'pocl' picked one of two devices silently"
case "$out" in *"matches several devices"*0:0*0:1*) ;; *) fail "'pocl': the message does not list both" ;; esac

# no GPU registered: 'gpu' says so
OCL_ICD_VENDORS=$2 run --device gpu
[ $rc -ne 0 ] || fail "'gpu' opened a device with no GPU registered"
case "$out" in *"no GPU found"*) ;; *) fail "'gpu': the message does not say that no GPU was found" ;; esac

# PoCL and Oclgrind: 'cl' is in both names; the one GPU (Oclgrind) is chosen
if [ $# -ge 3 ]; then
  OCL_ICD_VENDORS=$3 run --device cl
  case "$out" in Oclgrind*) ;; *) fail "'cl' did not choose the one GPU among the matches" ;; esac
fi
echo "device specs: as documented"
