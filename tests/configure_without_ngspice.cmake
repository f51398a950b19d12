# Run by ctest (tests/CMakeLists.txt): configures SOURCE_DIR afresh into BUILD_DIR with
# TKFAC_WITH_NGSPICE=OFF and PKG_CONFIG_EXECUTABLE=/bin/false (so ngspice cannot be found),
# builds the solver and kfac targets and no_ngspice_test, and runs that test.
foreach(var SOURCE_DIR BUILD_DIR GENERATOR CXX_COMPILER)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "configure_without_ngspice.cmake: -D${var}=... is required")
  endif()
endforeach()

function(run step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${step} failed (${rc}):\n${out}")
  endif()
  message(STATUS "${step}: ok")
endfunction()

file(REMOVE_RECURSE "${BUILD_DIR}")
set(launcher)
if(CXX_COMPILER_LAUNCHER)
  set(launcher "-DCMAKE_CXX_COMPILER_LAUNCHER=${CXX_COMPILER_LAUNCHER}")
endif()
run(configure ${CMAKE_COMMAND} -S "${SOURCE_DIR}" -B "${BUILD_DIR}" -G "${GENERATOR}"
  "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}" ${launcher}
  -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-O0
  -DTKFAC_WITH_NGSPICE=OFF -DPKG_CONFIG_EXECUTABLE=/bin/false)

# Nothing of ngspice may have been looked up.
file(READ "${BUILD_DIR}/CMakeCache.txt" cache)
if(cache MATCHES "(^|\n)(TKFAC_NGSPICE_PROGRAM|NGSPICE_[A-Z_]*|__pkg_config_checked_NGSPICE)[:=]")
  message(FATAL_ERROR "the configuration without ngspice looked it up: ${CMAKE_MATCH_2} is cached")
endif()
foreach(part cosim apps bench examples)
  if(EXISTS "${BUILD_DIR}/${part}")
    message(FATAL_ERROR "the configuration without ngspice configured ${part}")
  endif()
endforeach()

run(build ${CMAKE_COMMAND} --build "${BUILD_DIR}" -j2 --target solver kfac no_ngspice_test)
run(no_ngspice_test "${BUILD_DIR}/bin/no_ngspice_test")
