# The install test (test_install.sh): installs heed into a temporary prefix and
# builds and runs examples/ against it with pkg-config and with CMake's
# find_package(heed). It needs the libraries and the heed command built.
add_test(NAME install
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/test_install.sh ${PROJECT_BINARY_DIR}
                 ${PROJECT_SOURCE_DIR})
set_tests_properties(install PROPERTIES TIMEOUT 300 LABELS install
                     ENVIRONMENT "OMP_NUM_THREADS=1")
