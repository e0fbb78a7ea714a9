#!/usr/bin/env bash
# Checks the include graph between seke's folders: every #include "folder/..." in a source file
# must name its own folder or one the table below lets it use. Each folder may use only folders
# listed above it, so the graph has no cycle and no upward edge. Run by CTest (include_layers).
set -euo pipefail
cd "$(dirname "$0")/.."

# folder: the folders it may include, all declared on earlier lines (bottom of the stack first).
LAYERS=(
  "verify:"
  "connectors: verify"
  "tools/fake_vllm: verify"
  "plugin/server: connectors verify"
  "plugin/sql: verify"
  "plugin/config: plugin/sql connectors verify"
  "plugin/records: plugin/sql plugin/config connectors verify"
  "plugin/feab: plugin/records plugin/config connectors verify"
  "plugin/learning: plugin/feab plugin/records plugin/sql plugin/config connectors verify"
  "plugin/labeling: plugin/learning plugin/records plugin/config connectors verify"
  "plugin/datasets: plugin/labeling plugin/config connectors verify"
  "plugin/dashboard: plugin/server plugin/learning plugin/feab plugin/records plugin/config connectors verify"
  "plugin/label_studio: plugin/server plugin/labeling plugin/learning plugin/records plugin/config connectors verify"
  "plugin/cvat: plugin/server plugin/labeling plugin/learning plugin/records plugin/config connectors verify"
  "plugin/cli: plugin/cvat plugin/label_studio plugin/dashboard plugin/datasets plugin/server plugin/labeling plugin/learning plugin/feab plugin/records plugin/config connectors verify"
)

declare -A allowed=()
declared=" "
failures=0
for row in "${LAYERS[@]}"; do
  folder=${row%%:*}
  deps=${row#*:}
  for dep in $deps; do
    if [[ $declared != *" $dep "* ]]; then
      echo "layers: $folder may use $dep, which is not declared below it" >&2
      failures=$((failures + 1))
    fi
  done
  allowed[$folder]=" $folder $deps "
  declared+="$folder "
done

# The folder a quoted include names: the longest declared folder that prefixes it.
folder_of() {
  local path=$1 best=""
  for row in "${LAYERS[@]}"; do
    local folder=${row%%:*}
    if [[ $path == "$folder/"* && ${#folder} -gt ${#best} ]]; then best=$folder; fi
  done
  echo "$best"
}

while IFS= read -r file; do
  own=$(folder_of "$file")
  if [ -z "$own" ]; then
    echo "layers: $file is in no declared folder (add its folder to scripts/check-layers.sh)" >&2
    failures=$((failures + 1))
    continue
  fi
  while IFS= read -r included; do
    target=$(folder_of "$included")
    if [ -z "$target" ]; then
      echo "layers: $file includes \"$included\", outside every declared folder" >&2
      failures=$((failures + 1))
    elif [[ ${allowed[$own]} != *" $target "* ]]; then
      echo "layers: $file ($own) includes \"$included\" ($target): not allowed" >&2
      failures=$((failures + 1))
    fi
  done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$file")
done < <(git ls-files --cached --others --exclude-standard -- 'verify/*' 'connectors/*' 'plugin/*' 'tools/*' | grep -E '\.(cpp|hpp|h)$')

if [ "$failures" -gt 0 ]; then
  echo "layers: $failures include(s) break the folder layering" >&2
  exit 1
fi
echo "layers: every include follows the folder layering (${#LAYERS[@]} folders)"
