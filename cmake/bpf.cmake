# SPDX-License-Identifier: GPL-2.0-only
# bpf_object(NAME SOURCE): compile SOURCE for the BPF target (clang), link it
# with `bpftool gen object` and generate NAME.skel.h (the ELF embedded) into
# the build tree. Header dependencies come from clang's depfile, so editing any
# header a program includes rebuilds it. Defines the INTERFACE target
# NAME_skel that carries the skeleton's include path.

find_program(BPF_CLANG NAMES clang clang-19 clang-16 clang-14 REQUIRED)
find_program(BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin REQUIRED)

# The target architecture, as the kernel's headers name it (bpf_tracing.h's
# __TARGET_ARCH_*): needed for PT_REGS and vmlinux-style definitions.
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64|i.86)$")
  set(XDPFW_BPF_ARCH x86)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64)$")
  set(XDPFW_BPF_ARCH arm64)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^arm")
  set(XDPFW_BPF_ARCH arm)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(ppc64le|ppc64)$")
  set(XDPFW_BPF_ARCH powerpc)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^s390x$")
  set(XDPFW_BPF_ARCH s390)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^riscv64$")
  set(XDPFW_BPF_ARCH riscv)
else()
  message(FATAL_ERROR "bpf.cmake: no BPF target arch for ${CMAKE_SYSTEM_PROCESSOR}")
endif()

function(bpf_object name source)
  set(out ${CMAKE_BINARY_DIR}/bpf)
  set(obj ${out}/${name}.tmp.bpf.o)
  set(linked ${out}/${name}.bpf.o)
  set(skel ${out}/${name}.skel.h)
  set(dep ${out}/${name}.d)
  add_custom_command(
    OUTPUT ${skel} ${linked}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${out}
    COMMAND ${BPF_CLANG} -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_${XDPFW_BPF_ARCH}
            -Wall -Werror -Wno-unused-function
            -I${PROJECT_SOURCE_DIR}/bpf/include -I${PROJECT_SOURCE_DIR}/bpf/lib
            -I/usr/include/${CMAKE_LIBRARY_ARCHITECTURE}
            -MD -MF ${dep} -MT ${skel}
            -c ${CMAKE_CURRENT_SOURCE_DIR}/${source} -o ${obj}
    COMMAND ${BPFTOOL} gen object ${linked} ${obj}
    COMMAND ${BPFTOOL} gen skeleton ${linked} name ${name} > ${skel}
    DEPENDS ${source}
    DEPFILE ${dep}
    COMMENT "BPF ${name}: clang -> bpftool gen object -> skeleton"
    VERBATIM)
  add_custom_target(${name}_skel_gen DEPENDS ${skel})
  add_library(${name}_skel INTERFACE)
  add_dependencies(${name}_skel ${name}_skel_gen)
  target_include_directories(${name}_skel INTERFACE ${out})
endfunction()
