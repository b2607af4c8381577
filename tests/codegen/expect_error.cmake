# Runs PROTOC with ARGS; passes when it fails and its stderr contains EXPECT.
execute_process(COMMAND ${PROTOC} ${ARGS} RESULT_VARIABLE rc ERROR_VARIABLE err OUTPUT_VARIABLE out)
if(rc EQUAL 0)
  message(FATAL_ERROR "protoc succeeded; expected an error containing: ${EXPECT}")
endif()
string(FIND "${err}" "${EXPECT}" pos)
if(pos EQUAL -1)
  message(FATAL_ERROR "protoc failed (${rc}) without the expected message\n"
    "expected: ${EXPECT}\nstderr: ${err}")
endif()
message(STATUS "protoc failed as expected: ${err}")
