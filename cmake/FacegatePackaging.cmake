# Installation layout and the Debian packages (CPack): `./scripts/package`, or
# `cmake --build build --target package`. docs/install.md describes the result.
#
#   facegate        facegated, facegatectl, /etc/facegate/facegate.json (a conffile), the
#                   systemd units (the service; the backup service and its timer, off),
#                   facegate-install-host (scripts/install-host), the ResNet weights in /usr/share/facegate/models (the
#                   landmark model is Debian's libdlib-data, linked), man pages, docs;
#                   maintainer scripts in scripts/deb/
#   facegate-tools  the simulators and test-set tools (devsim, ship-sim, photoset, filler):
#                   for trials and load tests, never needed in production
include(GNUInstallDirs)

set(FACEGATE_MODEL_FILES
    ${PROJECT_SOURCE_DIR}/models/face_recognition_model.bin
    ${PROJECT_SOURCE_DIR}/models/face_recognition_model-weights_manifest.json)

install(TARGETS facegated facegatectl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        COMPONENT server)
install(TARGETS facegate-devsim facegate-ship-sim facegate-photoset facegate-filler
                facegate-faultproxy
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT tools)
install(FILES config/facegate.json DESTINATION /etc/facegate COMPONENT server)
install(FILES systemd/facegated.service systemd/facegate-backup.service
              systemd/facegate-backup.timer
        DESTINATION /lib/systemd/system COMPONENT server)
install(PROGRAMS scripts/install-host DESTINATION ${CMAKE_INSTALL_SBINDIR}
        RENAME facegate-install-host COMPONENT server)
install(FILES ${FACEGATE_MODEL_FILES} DESTINATION ${CMAKE_INSTALL_DATADIR}/facegate/models
        COMPONENT server OPTIONAL)
# The landmark model is Debian's (libdlib-data): a link, as scripts/setup makes in models/
# (relative, as Debian policy wants within /usr: ../../dlib/ from share/facegate/models).
install(CODE "
  set(dir \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_DATADIR}/facegate/models\")
  file(MAKE_DIRECTORY \"\${dir}\")
  file(CREATE_LINK ../../dlib/shape_predictor_68_face_landmarks.dat
       \"\${dir}/shape_predictor_68_face_landmarks.dat\" SYMBOLIC)"
  COMPONENT server)
# Debian's copyright file and (a native package's) changelog.gz, for each package.
set(changelog_gz ${CMAKE_BINARY_DIR}/deb/changelog.gz)
add_custom_command(
  OUTPUT ${changelog_gz}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/deb
  COMMAND gzip -9nc ${PROJECT_SOURCE_DIR}/scripts/deb/changelog > ${changelog_gz}
  DEPENDS ${PROJECT_SOURCE_DIR}/scripts/deb/changelog
  COMMENT "Debian changelog.gz")
add_custom_target(facegate_deb_changelog ALL DEPENDS ${changelog_gz})
foreach(component server tools)
  if(component STREQUAL server)
    set(doc ${CMAKE_INSTALL_DATADIR}/doc/facegate)
  else()
    set(doc ${CMAKE_INSTALL_DATADIR}/doc/facegate-tools)
  endif()
  install(FILES ${PROJECT_SOURCE_DIR}/scripts/deb/copyright ${changelog_gz} DESTINATION ${doc}
          COMPONENT ${component})
endforeach()
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT server
        FILES_MATCHING PATTERN "*.md" PATTERN "*.yaml")

# Man pages, translated from the man-style pages in docs/ (tools/md2man).
find_package(Python3 COMPONENTS Interpreter)
if(Python3_FOUND)
  set(FACEGATE_MAN_PAGES
      "facegated.md:facegated.8:8" "facegatectl.md:facegatectl.8:8"
      "devsim.md:facegate-devsim.1:1" "ship-sim.md:facegate-ship-sim.1:1"
      "photoset.md:facegate-photoset.1:1" "filler.md:facegate-filler.1:1"
      "faultproxy.md:facegate-faultproxy.1:1"
      "install-host.md:facegate-install-host.8:8")
  set(man_outputs)
  foreach(entry ${FACEGATE_MAN_PAGES})
    string(REPLACE ":" ";" parts "${entry}")
    list(GET parts 0 source)
    list(GET parts 1 page)
    list(GET parts 2 section)
    set(roff ${CMAKE_BINARY_DIR}/man/${page})
    set(out ${roff}.gz)
    add_custom_command(
      OUTPUT ${out}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
      COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/tools/md2man/md2man.py
              ${PROJECT_SOURCE_DIR}/docs/${source} ${roff} --version ${PROJECT_VERSION}
      # Debian's way: gzip -9, no name or time stamp in the header (reproducible).
      COMMAND gzip -9nf ${roff}
      DEPENDS ${PROJECT_SOURCE_DIR}/docs/${source} ${PROJECT_SOURCE_DIR}/tools/md2man/md2man.py
      COMMENT "man page ${page}")
    list(APPEND man_outputs ${out})
    if(source MATCHES "^(devsim|ship-sim|photoset|filler|faultproxy)")
      set(component tools)
    else()
      set(component server)
    endif()
    install(FILES ${out} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section} COMPONENT ${component})
  endforeach()
  add_custom_target(facegate_man_pages ALL DEPENDS ${man_outputs})
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME facegate)
set(CPACK_PACKAGE_VENDOR "Facegate")
set(CPACK_PACKAGE_CONTACT "Facegate maintainers <maintainers@facegate.invalid>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_COMPONENTS_ALL server tools)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://facegate.invalid/")
# Library dependencies from the binaries (dpkg-shlibdeps): built on Ubuntu 24.04, this names
# its t64 libraries and Boost 1.83 by itself.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS OFF)
set(CPACK_DEBIAN_SERVER_PACKAGE_NAME facegate)
# OpenBLAS comes with the libraries dpkg-shlibdeps finds (dlib links it).
set(CPACK_DEBIAN_SERVER_PACKAGE_DEPENDS "adduser, libdlib-data")
set(CPACK_DEBIAN_SERVER_PACKAGE_RECOMMENDS "chrony")
set(CPACK_DEBIAN_SERVER_DESCRIPTION "on-premises face-recognition access server
Facegate identifies the person at a door face terminal against the enrolled
faces, decides grant or deny against their rights for that door, and passes
the decision to the site's access-control system (Salto Space over SHIP).")
set(CPACK_DEBIAN_SERVER_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/scripts/deb/postinst ${PROJECT_SOURCE_DIR}/scripts/deb/prerm
    ${PROJECT_SOURCE_DIR}/scripts/deb/postrm ${PROJECT_SOURCE_DIR}/scripts/deb/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_TOOLS_PACKAGE_NAME facegate-tools)
set(CPACK_DEBIAN_TOOLS_PACKAGE_DEPENDS "facegate (= ${PROJECT_VERSION})")
set(CPACK_DEBIAN_TOOLS_DESCRIPTION "Facegate simulators and test-set tools
facegate-devsim (door terminals under load), facegate-ship-sim (a Salto Space
server speaking SHIP), facegate-photoset and facegate-filler (test sites).
For trials and load tests; never needed in production.")
set(CPACK_DEBIAN_TOOLS_PACKAGE_SECTION utils)
include(CPack)
