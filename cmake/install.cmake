# `make install` / `cmake --install build [--prefix P]` and the .deb (issue 12, "Installing like a real tool"):
#   ${prefix}/bin/hermeslink
#   ${prefix}/share/man/man1/hermeslink.1          generated at build time from the built binary's --help (scripts/gen-man.sh)
#   ${prefix}/share/bash-completion/completions/hermeslink, ${prefix}/share/zsh/vendor-completions/_hermeslink
#   ${prefix}/lib/systemd/user/hermeslink.service  ExecStart=${prefix}/bin/hermeslink run, Type=notify
# tests/integration/check_install.sh (suite `install`) checks all of it, and the .deb when dpkg-deb is present.
include(GNUInstallDirs)

install(TARGETS hermeslink RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

set(HL_MAN_PAGE ${CMAKE_CURRENT_BINARY_DIR}/hermeslink.1)
add_custom_command(OUTPUT ${HL_MAN_PAGE}
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/scripts/gen-man.sh $<TARGET_FILE:hermeslink> ${HL_MAN_PAGE}
    DEPENDS hermeslink ${CMAKE_CURRENT_SOURCE_DIR}/scripts/gen-man.sh
    COMMENT "Generating hermeslink.1 from hermeslink --help" VERBATIM)
add_custom_target(man ALL DEPENDS ${HL_MAN_PAGE})
install(FILES ${HL_MAN_PAGE} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)

install(FILES completions/hermeslink.bash DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME hermeslink)
install(FILES completions/_hermeslink DESTINATION ${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions)

# The unit names the installed binary: rendered at install time, so that `cmake --install --prefix P` and the .deb
# (CPACK_SET_DESTDIR: prefix /usr, staged under DESTDIR) each get their own prefix. systemd's user unit directory is
# ${prefix}/lib/systemd/user whatever the libdir (no multiarch triplet).
install(CODE "
    file(READ \"${CMAKE_CURRENT_SOURCE_DIR}/packaging/hermeslink.service.in\" _unit)
    string(REPLACE \"@HL_INSTALL_BINDIR@\" \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}\" _unit \"\${_unit}\")
    file(WRITE \"${CMAKE_CURRENT_BINARY_DIR}/install-unit/hermeslink.service\" \"\${_unit}\")
    file(INSTALL DESTINATION \"\${CMAKE_INSTALL_PREFIX}/lib/systemd/user\" TYPE FILE
         PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
         FILES \"${CMAKE_CURRENT_BINARY_DIR}/install-unit/hermeslink.service\")
")

# `make deb` (cpack -G DEB in build/): the runtime dependencies come from dpkg-shlibdeps (dpkg-dev), i.e. the Debian
# packages of the shared libraries the binary links (libh2o-evloop, libjansson, libsqlite3, libssl, libqrencode, libcurl,
# liburcu, libyaml).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME hermeslink)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "HermesLink maintainers <hermeslink@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Local service for Hermes Agent: pairs phones and browsers and serves its API")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr) # with CPACK_SET_DESTDIR the prefix the install step sees
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS OFF)
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/packages)
include(CPack)
