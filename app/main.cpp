#include "app/node.hpp"

int main(int argc, char** argv) { return wsvisor::run_main(argc, argv); }
