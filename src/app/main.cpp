#include <cstdio>

#include "app/config.h"
#include "app/node.h"

int main(int argc, char* argv[]) {
  const chat::app::ParsedArgs args = chat::app::parse_args(argc, argv);
  if (!args.config) {
    std::fputs(args.output.c_str(), args.exit_code == 0 ? stdout : stderr);
    return args.exit_code;
  }
  return chat::app::run_node(*args.config);
}
