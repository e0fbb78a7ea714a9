# Registers one CTest test per Boost.Test suite found in the given sources (the Bitcoin Core way):
# one link step per binary, failures attributed per suite, `ctest -j` parallel across suites.
# Where CTest's throwaway PostgreSQL server keeps its URI (tests/support/postgres.hpp reads it).
set(SEKE_TEST_POSTGRES_DIR ${CMAKE_BINARY_DIR}/postgres-test)

# How test code is compiled (the test binaries and seke_test_support). It is mostly Boost.Test's
# templates: -O1 compiles it in two thirds of -O2's time, and the code under test keeps its own
# -O2 (it lives in the libraries). Under the sanitizers -O0 compiles it in less than half of
# -O1's time; the code under test keeps -O1. The fuzzers' coverage hooks are left out of it: no
# fuzz target links test code, and they cost a fifth of each test file's compile time.
set(SEKE_TEST_COMPILE_OPTIONS $<$<CONFIG:Check>:-O1> $<$<CONFIG:Sanitize>:-O0>)
if(SEKE_FUZZ)
  list(APPEND SEKE_TEST_COMPILE_OPTIONS -fno-sanitize=fuzzer-no-link)
endif()

function(seke_add_test_binary name label timeout)
  set(sources ${ARGN})
  add_executable(${name} ${sources})
  target_link_libraries(${name} PRIVATE Boost::unit_test_framework seke_test_support seke_warnings)
  target_compile_definitions(${name} PRIVATE BOOST_TEST_DYN_LINK)
  target_compile_options(${name} PRIVATE ${SEKE_TEST_COMPILE_OPTIONS})
  foreach(source IN LISTS sources)
    file(READ "${source}" content)
    # Its suites and whether they need PostgreSQL are read from it: an edit reconfigures.
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${source}")
    string(REGEX MATCHALL "BOOST_(AUTO|FIXTURE)_TEST_SUITE\\(([A-Za-z0-9_]+)" suites "${content}")
    foreach(match IN LISTS suites)
      string(REGEX REPLACE "BOOST_(AUTO|FIXTURE)_TEST_SUITE\\(" "" suite "${match}")
      add_test(NAME ${suite}
               COMMAND ${name} --run_test=${suite} --catch_system_error=no --log_level=test_suite)
      set_tests_properties(${suite} PROPERTIES LABELS ${label} TIMEOUT ${timeout}
                           WORKING_DIRECTORY ${CMAKE_BINARY_DIR})
      if(SEKE_SANITIZE)
        set_tests_properties(${suite} PROPERTIES ENVIRONMENT "${SEKE_SANITIZER_ENVIRONMENT}")
      endif()
      if(suite IN_LIST SEKE_CONCURRENCY_SUITES)
        set_property(TEST ${suite} APPEND PROPERTY LABELS concurrency)
      endif()
      if(content MATCHES "tests/support/postgres.hpp")
        set_tests_properties(${suite} PROPERTIES FIXTURES_REQUIRED postgres)
      endif()
    endforeach()
  endforeach()
endfunction()
