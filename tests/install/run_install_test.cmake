# Installs a built Sluice tree into a scratch prefix, then configures, builds and
# runs an outside project that finds it with find_package(sluice CONFIG).
#
#   cmake -DBUILD_DIR=<sluice build dir> -DWORK_DIR=<scratch dir>
#         -DSOURCE_DIR=<consumer source dir> -P run_install_test.cmake
#
# The consumer is compiled with the parent build's compiler, build type and
# CMAKE_CXX_FLAGS (read from BUILD_DIR/CMakeCache.txt), so that it links against
# sanitizer-instrumented builds (asan, tsan) too.
cmake_minimum_required(VERSION 3.25)

foreach(var BUILD_DIR WORK_DIR SOURCE_DIR)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "run_install_test.cmake: -D${var}=... is required")
  endif()
endforeach()
if(NOT EXISTS "${BUILD_DIR}/CMakeCache.txt")
  message(FATAL_ERROR "run_install_test.cmake: ${BUILD_DIR} is not a CMake build directory")
endif()

load_cache("${BUILD_DIR}" READ_WITH_PREFIX PARENT_
  CMAKE_CXX_COMPILER CMAKE_CXX_FLAGS CMAKE_BUILD_TYPE)

set(prefix "${WORK_DIR}/prefix")
set(consumer_build "${WORK_DIR}/build")
file(REMOVE_RECURSE "${prefix}" "${consumer_build}")
file(MAKE_DIRECTORY "${WORK_DIR}")

function(run_step name)
  execute_process(COMMAND ${ARGN}
    RESULT_VARIABLE rc
    OUTPUT_VARIABLE out
    ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    list(JOIN ARGN " " cmd)
    message(FATAL_ERROR "install test: ${name} failed (${rc}):\n${cmd}\n${out}")
  endif()
  message(STATUS "install test: ${name} ok")
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

run_step("install" "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${prefix}")

set(configure_args
  -S "${SOURCE_DIR}" -B "${consumer_build}" -G Ninja
  "-DCMAKE_PREFIX_PATH=${prefix}"
  "-DCMAKE_CXX_FLAGS=${PARENT_CMAKE_CXX_FLAGS}")
if(PARENT_CMAKE_CXX_COMPILER)
  list(APPEND configure_args "-DCMAKE_CXX_COMPILER=${PARENT_CMAKE_CXX_COMPILER}")
endif()
if(PARENT_CMAKE_BUILD_TYPE)
  list(APPEND configure_args "-DCMAKE_BUILD_TYPE=${PARENT_CMAKE_BUILD_TYPE}")
endif()
run_step("configure consumer" "${CMAKE_COMMAND}" ${configure_args})
run_step("build consumer" "${CMAKE_COMMAND}" --build "${consumer_build}")
run_step("run consumer" "${consumer_build}/consumer")
message(STATUS "consumer output: ${step_output}")
