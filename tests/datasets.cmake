# heed data: the dataset generators (tools/cmd_data.c, tools/data_*.c), checked
# by test_datasets.sh, one ctest test per part. g2p and langid read Debian's
# word lists and report "skipped" (exit 77) where those are not installed.
foreach(part cli dates addition g2p langid)
  add_test(NAME data_${part}
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/test_datasets.sh $<TARGET_FILE:heed>
                   ${CMAKE_CURRENT_BINARY_DIR}/data_${part} ${part})
  set_tests_properties(data_${part} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 120)
endforeach()
