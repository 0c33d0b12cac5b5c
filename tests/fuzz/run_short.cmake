# The short run of one fuzz target, as ctest's fuzz.NAME test runs it:
#   cmake -DFUZZER=BIN -DSEEDS=DIR -DDICT=FILE -DWORK=DIR -DSECONDS=N -P run_short.cmake
# libFuzzer writes new inputs into the first corpus directory only, so the
# committed seeds (the second) are read and never grown. WORK starts empty
# each time, which keeps the run the same from one invocation to the next.
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}/corpus" "${WORK}/artifacts")
execute_process(
  COMMAND "${FUZZER}"
    -max_total_time=${SECONDS}
    -timeout=10
    -dict=${DICT}
    -artifact_prefix=${WORK}/artifacts/
    -print_final_stats=1
    "${WORK}/corpus" "${SEEDS}"
  RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "${FUZZER} failed (${status}); the input is in ${WORK}/artifacts/")
endif()
