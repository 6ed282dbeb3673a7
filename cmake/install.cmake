# install.cmake - `cmake --install` rules: the shared and static libraries, the
# heed command, heed.h, a pkg-config file (heed.pc) and a CMake package
# (find_package(heed) giving heed::heed, the shared library, and
# heed::heed_static). Included at the end of the root CMakeLists.txt.
#
# The libraries link imported targets made by pkg_check_modules
# (PkgConfig::YAML...) and OpenMP::OpenMP_C, which cannot be exported as they
# are: a consumer has no such targets, or has its own under those names. So
# the installed link interface is rewritten here, item by item:
#   heed::heed         nothing: libheed.so carries its own dependencies (and a
#                      run path to the OpenMP OpenBLAS), and heed.h needs none;
#   heed::heed_static  PkgConfig::X becomes PkgConfig::heed_X, which
#                      heedConfig.cmake makes with pkg_check_modules, and
#                      OpenMP::OpenMP_C stays, found with find_package(OpenMP);
#                      all link-only (consumers need no -fopenmp to compile).
# The same walk over the link items writes heed.pc's private requirements.
include(CMakePackageConfigHelpers)

set(HEED_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/heed)
set_target_properties(heed_shared PROPERTIES EXPORT_NAME heed)
set_target_properties(heed_static PROPERTIES EXPORT_NAME heed_static)

set(HEED_PKG_PREFIXES "")      # pkg_check_modules prefixes (YAML...), for heedConfig.cmake
set(HEED_PKG_MODULES "")       # ... and their modules (yaml-0.1...)
set(HEED_PC_REQUIRES "")       # heed.pc Requires.private
set(HEED_PC_LIBS "")           # heed.pc Libs.private
set(HEED_CONFIG_OPENMP FALSE)  # heedConfig.cmake needs find_package(OpenMP)
get_target_property(_heed_links heed_static INTERFACE_LINK_LIBRARIES)
set(_heed_static_links "")
foreach(item IN LISTS _heed_links)
  list(APPEND _heed_static_links "$<BUILD_INTERFACE:${item}>") # the build is unchanged
  set(dep "${item}")
  if(dep MATCHES "^\\$<LINK_ONLY:(.+)>$")
    set(dep "${CMAKE_MATCH_1}")
  endif()
  if(dep MATCHES "^PkgConfig::(.+)$")
    set(prefix "${CMAKE_MATCH_1}")
    if(NOT DEFINED ${prefix}_MODULE_NAME)
      message(WARNING "install.cmake: no pkg-config module name for ${dep}; "
                      "the installed heed::heed_static will lack it")
      continue()
    endif()
    set(installed "PkgConfig::heed_${prefix}")
    if(prefix IN_LIST HEED_PKG_PREFIXES)
      continue()
    endif()
    list(APPEND HEED_PKG_PREFIXES ${prefix})
    list(APPEND HEED_PKG_MODULES ${${prefix}_MODULE_NAME})
    if(${prefix}_LIBDIR MATCHES "^${HEED_OPENBLAS_DIR}")
      # Not on pkg-config's default path: name the directory (and keep it in
      # the run path) so that no PKG_CONFIG_PATH is needed.
      list(APPEND HEED_PC_LIBS ${${prefix}_LDFLAGS} "-Wl,-rpath,${${prefix}_LIBDIR}")
    else()
      list(APPEND HEED_PC_REQUIRES ${${prefix}_MODULE_NAME})
    endif()
  elseif(dep STREQUAL "OpenMP::OpenMP_C")
    set(HEED_CONFIG_OPENMP TRUE)
    set(installed "${dep}")
    list(APPEND HEED_PC_LIBS ${OpenMP_C_FLAGS})
  elseif(NOT dep MATCHES "[:$<>/]")
    set(installed "${dep}")      # a plain library name such as m
    list(APPEND HEED_PC_LIBS "-l${dep}")
  else()
    message(WARNING "install.cmake: does not know how to export the link item "
                    "'${item}' of heed_static; the installed heed::heed_static will lack it")
    continue()
  endif()
  list(APPEND _heed_static_links "$<INSTALL_INTERFACE:$<LINK_ONLY:${installed}>>")
endforeach()
set_property(TARGET heed_static PROPERTY INTERFACE_LINK_LIBRARIES "${_heed_static_links}")

get_target_property(_heed_links heed_shared INTERFACE_LINK_LIBRARIES)
set(_heed_shared_links "")
foreach(item IN LISTS _heed_links)
  list(APPEND _heed_shared_links "$<BUILD_INTERFACE:${item}>")
endforeach()
set_property(TARGET heed_shared PROPERTY INTERFACE_LINK_LIBRARIES "${_heed_shared_links}")

# Libraries, the command and the header.
install(TARGETS heed_shared EXPORT heedTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS heed_static EXPORT heedStaticTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS heed RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${PROJECT_SOURCE_DIR}/include/heed.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

# The CMake package: relocatable, so `cmake --install --prefix DIR` works.
install(EXPORT heedTargets NAMESPACE heed:: DESTINATION ${HEED_CMAKE_DIR})
install(EXPORT heedStaticTargets NAMESPACE heed:: DESTINATION ${HEED_CMAKE_DIR})
list(JOIN HEED_PKG_MODULES ", " HEED_PKG_MODULES_TEXT) # for a comment
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/heedConfig.cmake.in
  ${PROJECT_BINARY_DIR}/heedConfig.cmake INSTALL_DESTINATION ${HEED_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/heedConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/heedConfig.cmake ${PROJECT_BINARY_DIR}/heedConfigVersion.cmake
        DESTINATION ${HEED_CMAKE_DIR})

# heed.pc: everything but the prefix is known now; the prefix is filled in at
# install time, since `cmake --install --prefix DIR` overrides
# CMAKE_INSTALL_PREFIX only then.
list(JOIN HEED_PC_REQUIRES " " HEED_PC_REQUIRES)
list(JOIN HEED_PC_LIBS " " HEED_PC_LIBS)
foreach(dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${dir}}")
    set(HEED_PC_${dir} "${CMAKE_INSTALL_${dir}}")
  else()
    set(HEED_PC_${dir} "\${prefix}/${CMAKE_INSTALL_${dir}}")
  endif()
endforeach()
set(HEED_PC_PREFIX "@HEED_PC_PREFIX@") # kept for the second pass
configure_file(${PROJECT_SOURCE_DIR}/cmake/heed.pc.in ${PROJECT_BINARY_DIR}/heed.pc.in @ONLY)
# With a relative LIBDIR the prefix is found from heed.pc's own place
# (${pcfiledir}, LIBDIR/pkgconfig), so an installed tree may be moved, as the
# CMake package may; an absolute LIBDIR keeps the install prefix.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(HEED_PC_PREFIX_AT_INSTALL "\${CMAKE_INSTALL_PREFIX}")
else()
  string(REGEX MATCHALL "[^/]+" _heed_pc_parts "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
  set(HEED_PC_PREFIX_AT_INSTALL "\\\${pcfiledir}") # a literal ${pcfiledir} in heed.pc
  foreach(_part IN LISTS _heed_pc_parts)
    string(APPEND HEED_PC_PREFIX_AT_INSTALL "/..")
  endforeach()
endif()
install(CODE "
  set(HEED_PC_PREFIX \"${HEED_PC_PREFIX_AT_INSTALL}\")
  configure_file(\"${PROJECT_BINARY_DIR}/heed.pc.in\" \"${PROJECT_BINARY_DIR}/heed.pc\" @ONLY)")
install(FILES ${PROJECT_BINARY_DIR}/heed.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
