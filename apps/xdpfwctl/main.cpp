// SPDX-License-Identifier: GPL-2.0-only
// xdpfwctl: the command-line client of xdpfwd (the CLI lives in cli.cpp).
#include "apps/xdpfwctl/cli.hpp"

#include <iostream>

int main(int argc, char** argv)
{
    return xdpfw::ctl::run_xdpfwctl(argc, argv, std::cout, std::cerr);
}
