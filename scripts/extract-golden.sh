#!/usr/bin/env bash
# Regenerates tests/vectors/*.hex from the golden captures in ../shared/golden with tshark.
# Each vector line is one TPKT record as a real client sent it or Snap7's server answered it,
# preceded by a comment naming the capture, frame number and direction.
set -euo pipefail
cd "$(dirname "$0")/.."
golden=${GOLDEN:-../shared/golden}
for name in snap7_client_full_session st_nodes7_session nodes7_session pys7_session; do
  out=tests/vectors/$name.hex
  {
    echo "# source: $golden/$name.pcapng (Snap7 1.4 server), extracted by scripts/extract-golden.sh"
    echo "# format: '# frame N <client|server>' then the TPKT record in hex (several TPKTs of one"
    echo "#         TCP segment stay on one line). Stream index t<N> separates TCP connections."
    tshark -r "$golden/$name.pcapng" -Y 'tcp.len > 0' -T fields \
      -e frame.number -e tcp.stream -e tcp.srcport -e tcp.payload 2>/dev/null |
      awk -F'\t' '{ dir = ($3 == 102) ? "server" : "client"; printf "# frame %s t%s %s\n%s\n", $1, $2, dir, $4 }'
  } > "$out"
  echo "wrote $out ($(grep -c '^# frame' "$out") records)"
done
