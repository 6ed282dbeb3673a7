# The install test (test_install.sh): installs heed into a temporary prefix and
# builds and runs examples/ against it with pkg-config and with CMake's
# find_package(heed). It needs the libraries and the heed command built.
add_test(NAME install
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/test_install.sh ${PROJECT_BINARY_DIR}
                 ${PROJECT_SOURCE_DIR})
set(_heed_install_env "OMP_NUM_THREADS=1")
if(HEED_SANITIZE)
  list(APPEND _heed_install_env "HEED_TEST_CFLAGS=-fsanitize=${HEED_SANITIZE}")
endif()
set_tests_properties(install PROPERTIES TIMEOUT 300 LABELS install
                     ENVIRONMENT "${_heed_install_env}")
