#!/bin/sh
# bench/run.sh BUILD_DIR - every peer comparison in one go (make bench): TFTP vs tftpd-hpa/dnsmasq, HTTP vs nginx,
# the boot storm, the scan/render scaling and ISO stream-vs-extract. Each script prints its own figures and ratios.
set -u
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
fail=0
for b in tftp http storm scan iso; do
  echo "=== bench/$b.sh"
  if ! sh "$here/$b.sh" "$build"; then
    echo "bench/$b.sh failed"
    fail=1
  fi
done
exit $fail
