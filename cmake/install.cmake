# Install rules: the libraries as exported targets tkfac::core, tkfac::netlist_gen,
# tkfac::solver, tkfac::kfac (and tkfac::cosim with ngspice), their headers, the tkfac program,
# and a tkfacConfig.cmake so another project can write
#   find_package(tkfac CONFIG REQUIRED)
#   target_link_libraries(app PRIVATE tkfac::cosim)
include(CMakePackageConfigHelpers)

set_target_properties(tkfac_core PROPERTIES EXPORT_NAME core)
set(tkfac_install_targets tkfac_core netlist_gen solver kfac)
set(tkfac_install_parts core netlist_gen solver kfac)
if(TKFAC_WITH_NGSPICE)
  list(APPEND tkfac_install_targets cosim)
  list(APPEND tkfac_install_parts cosim)
endif()

install(TARGETS ${tkfac_install_targets} EXPORT tkfacTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
foreach(part ${tkfac_install_parts})
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${part}/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endforeach()
install(FILES ${PROJECT_BINARY_DIR}/core/include/tkfac/core/version.hpp
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/tkfac/core)
if(TKFAC_WITH_NGSPICE)
  install(TARGETS tkfac RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

set(tkfac_config_dir ${CMAKE_INSTALL_LIBDIR}/cmake/tkfac)
install(EXPORT tkfacTargets NAMESPACE tkfac:: DESTINATION ${tkfac_config_dir})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/tkfacConfig.cmake.in
  ${PROJECT_BINARY_DIR}/tkfacConfig.cmake INSTALL_DESTINATION ${tkfac_config_dir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/tkfacConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/tkfacConfig.cmake ${PROJECT_BINARY_DIR}/tkfacConfigVersion.cmake
  DESTINATION ${tkfac_config_dir})
