#!/usr/bin/env bash
# Regenerates fixtures/swtpm-quote/{rsa,ecc}: real TPM 2.0 quotes from a fresh
# swtpm, made with tpm2-tools exactly as fixtures/README.md describes. A new
# swtpm has new seeds, so every file changes; the tests read whatever is there.
# Needs: swtpm, tpm2-tools (apt-get install -y swtpm tpm2-tools).
set -euo pipefail
out="$(cd "$(dirname "$0")/.." && pwd)/fixtures/swtpm-quote"
work="$(mktemp -d)"
port=23321
swtpm socket --tpm2 --server type=tcp,port=$port,bindaddr=127.0.0.1 --ctrl type=tcp,port=$((port + 1)),bindaddr=127.0.0.1 \
  --tpmstate dir="$work" --flags not-need-init,startup-clear &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$work"' EXIT
sleep 1
export TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$port"
nonce=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
attrs='fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign|noda'
tpm2_pcrextend 7:sha256="$(printf 'vtpm-verify fixture' | sha256sum | cut -d' ' -f1)"
tpm2_pcrextend 10:sha256="$(printf 'ima' | sha256sum | cut -d' ' -f1)"
for alg in rsa ecc; do
  if [ "$alg" = rsa ]; then key=rsa2048:rsassa-sha256:null; else key=ecc256:ecdsa-sha256:null; fi
  mkdir -p "$out/$alg"
  # a restricted signing key in the owner hierarchy: the AK
  tpm2_createprimary -C o -g sha256 -G "$key" -a "$attrs" -c "$work/ak.ctx" -o "$out/$alg/ak.pem" -f pem >/dev/null
  tpm2_readpublic -c "$work/ak.ctx" -o "$out/$alg/ak.pub" >/dev/null
  tpm2_quote -c "$work/ak.ctx" -l sha256:0,1,2,3,7,10 -q "$nonce" -g sha256 \
    -m "$out/$alg/quote.msg" -s "$out/$alg/quote.sig" -o "$out/$alg/pcrs.bin" >/dev/null
  tpm2_flushcontext -t
  tpm2_checkquote -u "$out/$alg/ak.pem" -m "$out/$alg/quote.msg" -s "$out/$alg/quote.sig" -f "$out/$alg/pcrs.bin" -g sha256 -q "$nonce" >/dev/null
  chmod 644 "$out/$alg"/*
done
echo "wrote $out/rsa and $out/ecc"
