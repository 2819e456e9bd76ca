# Warnings for our own code only (third-party headers are included as SYSTEM).
function(facegate_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow=local
    -Wnon-virtual-dtor -Wno-missing-field-initializers)
  # GCC 12 reports impossible std::string copies at -O2 (GCC bug 105651, fixed in 13).
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    target_compile_options(${target} PRIVATE -Wno-restrict)
  endif()
  # With -fsanitize at -O1, GCC's uninitialised-use analysis reports std::regex and
  # std::function internals (GCC documents false positives with sanitizers).
  target_compile_options(${target} PRIVATE $<$<CONFIG:Sanitize>:-Wno-maybe-uninitialized>)
  # -Wsubobject-linkage is about types defined in headers; in a unity batch every source is an
  # included file, so a class holding a type of its own file's anonymous namespace is reported.
  if(CMAKE_UNITY_BUILD)
    target_compile_options(${target} PRIVATE -Wno-subobject-linkage)
  endif()
  if(FACEGATE_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# facegate_library(<name> SOURCES ... DEPS ...): the static library facegate_<name>
# for the subsystem in src/<name>/, public headers in include/facegate/<name>/.
function(facegate_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(facegate_${name} STATIC ${ARG_SOURCES})
  add_library(facegate::${name} ALIAS facegate_${name})
  target_include_directories(facegate_${name} PUBLIC ${PROJECT_SOURCE_DIR}/include
    PRIVATE ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(facegate_${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  facegate_warnings(facegate_${name})
endfunction()

# facegate_test(<name> SOURCES ... DEPS ... [LABELS ...]): one GoogleTest binary.
function(facegate_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} facegate_testing GTest::gtest GTest::gmock GTest::gtest_main)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests ${PROJECT_SOURCE_DIR}/src)
  facegate_warnings(${name})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  gtest_discover_tests(${name}
    TEST_PREFIX "${name}."
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
    DISCOVERY_TIMEOUT 60
    PROPERTIES TIMEOUT ${ARG_TIMEOUT})
  # gtest_discover_tests keeps only the first item of a list-valued property, so the labels
  # and the environment are set from a file ctest reads after the discovered tests.
  set(props_file ${CMAKE_CURRENT_BINARY_DIR}/${name}_properties.cmake)
  file(WRITE ${props_file} "if(${name}_TESTS)\n  set_tests_properties(\${${name}_TESTS} PROPERTIES\n"
    "    LABELS \"${ARG_LABELS}\"\n"
    "    ENVIRONMENT \"FACEGATE_SOURCE_DIR=${PROJECT_SOURCE_DIR};FACEGATE_BINARY_DIR=${PROJECT_BINARY_DIR}\")\n"
    "endif()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES ${props_file})
endfunction()
