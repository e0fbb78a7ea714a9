# Sourced by the bench scripts: the fake VLLM started in the background on a free port, with
# OPENAI_BASE_URL, OPENAI_API_KEY and SEKE_MODEL exported for the seke processes started after it.
#   start_fake_vllm WORK NAME [seke-fake-vllm serve options: --truth FILE --latency-ms N ...]
# Its log is WORK/NAME.log, its port WORK/NAME.port, its pid FAKE_VLLM_PID; the caller's EXIT trap
# stops it with the other background jobs.
start_fake_vllm() {
  local work=$1 name=$2
  shift 2
  rm -f "$work/$name.port"
  "${BUILD:-build}/tools/fake_vllm/seke-fake-vllm" serve --port 0 --port-file "$work/$name.port" "$@" \
    >"$work/$name.log" 2>&1 &
  FAKE_VLLM_PID=$!
  for _ in $(seq 1 200); do [ -s "$work/$name.port" ] && break; sleep 0.05; done
  if [ ! -s "$work/$name.port" ]; then
    echo "the fake VLLM did not start:" >&2
    cat "$work/$name.log" >&2
    return 1
  fi
  export OPENAI_BASE_URL="http://127.0.0.1:$(cat "$work/$name.port")/v1" OPENAI_API_KEY=bench SEKE_MODEL=fake
}
