# Run by ctest (tests/CMakeLists.txt): installs BUILD_DIR into a fresh PREFIX, configures the
# examples/ project as an outside project that finds tkfac with find_package(tkfac CONFIG
# REQUIRED) under that prefix only, builds it and runs solve_example (which must print the
# circuit's and Cholesky's solutions).
foreach(var SOURCE_DIR BUILD_DIR WORK_DIR GENERATOR CXX_COMPILER)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "install_and_build_examples.cmake: -D${var}=... is required")
  endif()
endforeach()

function(run step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${step} failed (${rc}):\n${out}")
  endif()
  message(STATUS "${step}: ok")
  set(run_output "${out}" PARENT_SCOPE)
endfunction()

set(prefix "${WORK_DIR}/prefix")
set(examples_build "${WORK_DIR}/examples")
file(REMOVE_RECURSE "${WORK_DIR}")
run(install ${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${prefix}")
foreach(installed bin/tkfac include/tkfac/cosim/backends.hpp include/tkfac/kfac/kfac_optimizer.hpp)
  if(NOT EXISTS "${prefix}/${installed}")
    message(FATAL_ERROR "the install is missing ${installed}")
  endif()
endforeach()
run(version "${prefix}/bin/tkfac" --version)

set(launcher)
if(CXX_COMPILER_LAUNCHER)
  set(launcher "-DCMAKE_CXX_COMPILER_LAUNCHER=${CXX_COMPILER_LAUNCHER}")
endif()
# CMAKE_FIND_USE_PACKAGE_REGISTRY=OFF and the prefix as the only hint: the build tree cannot be
# found instead of the install.
run(configure ${CMAKE_COMMAND} -S "${SOURCE_DIR}/examples" -B "${examples_build}" -G "${GENERATOR}"
  "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}" ${launcher} -DCMAKE_BUILD_TYPE=Release
  "-DCMAKE_PREFIX_PATH=${prefix}" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
file(READ "${examples_build}/CMakeCache.txt" cache)
if(NOT cache MATCHES "tkfac_DIR:PATH=${prefix}/")
  message(FATAL_ERROR "the examples did not find tkfac under ${prefix}")
endif()
run(build ${CMAKE_COMMAND} --build "${examples_build}" -j2)
run(solve_example "${examples_build}/solve_example")
if(NOT run_output MATCHES "x \\(circuit\\)  = [^\n]*\nx \\(cholesky\\) = ")
  message(FATAL_ERROR "solve_example printed no solutions:\n${run_output}")
endif()
