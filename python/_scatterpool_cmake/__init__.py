"""Where scatterpool's CMake package is, for scikit-build-core's ``cmake.root`` entry point.

scikit-build-core imports the module that a ``cmake.root`` entry point names
and searches its folder for ``find_package``. Importing ``scatterpool`` would
load its compiled core, which fails while that very core is being rebuilt, so
the entry point names this empty package instead. Its folder holds two files
that forward ``find_package(scatterpool)`` to the CMake package inside the
``scatterpool`` package (``scatterpool.get_cmake_dir()``).
"""
