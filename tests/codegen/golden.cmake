# Compares (UPDATE=0) or copies (UPDATE=1) generated files against golden/.
# -DGEN_DIR=... -DGOLDEN_DIR=... -DFILES=a;b -DUPDATE=0|1
set(failed 0)
foreach(f ${FILES})
  if(UPDATE)
    get_filename_component(dir ${GOLDEN_DIR}/${f} DIRECTORY)
    file(MAKE_DIRECTORY ${dir})
    execute_process(COMMAND ${CMAKE_COMMAND} -E copy ${GEN_DIR}/${f} ${GOLDEN_DIR}/${f})
    message(STATUS "updated ${GOLDEN_DIR}/${f}")
  else()
    execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${GEN_DIR}/${f} ${GOLDEN_DIR}/${f}
      RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
      message(SEND_ERROR "${GEN_DIR}/${f} differs from ${GOLDEN_DIR}/${f}; "
        "diff them, and if the change is intended run the codegen_update_golden target")
      set(failed 1)
    endif()
  endif()
endforeach()
if(failed)
  message(FATAL_ERROR "golden files differ")
endif()
