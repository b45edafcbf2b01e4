#!/bin/sh
# Placeholder until the QEMU/iPXE boot harness lands (issue 6): says so instead of pretending.
echo "e2e: harness not written yet: 0 passed, 0 failed"
