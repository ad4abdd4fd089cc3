// m2m-server: the AI-Cloud platform (serve) and its offline registry tools (device, account).
#include <cstring>
#include <vector>

#include "admin.hpp"
#include "cli/app.hpp"
#include "cli/cli.hpp"
#include "serve.hpp"
#include "users.hpp"

namespace {
constexpr std::string_view kProg = "m2m-server";
}  // namespace

int main(int argc, char** argv) {
  using namespace m2m;
  // `serve` is the default subcommand: "m2m-server --db x" means "m2m-server serve --db x".
  std::vector<char*> args(argv, argv + argc);
  static char serve_word[] = "serve";
  if (argc == 1 || (argv[1][0] == '-' && std::strcmp(argv[1], "-h") != 0 && std::strcmp(argv[1], "--help") != 0 &&
                    std::strcmp(argv[1], "-V") != 0 && std::strcmp(argv[1], "--version") != 0 &&
                    std::strcmp(argv[1], "--completion") != 0))
    args.insert(args.begin() + 1, serve_word);

  CLI::App app{"AI-Cloud M2M platform: devices log in over TCP or UDP, relay data within their group, meet "
               "for P2P; platform clients log in to control devices and receive their data"};
  cli::setup_app(app, kProg);
  app.require_subcommand(1);

  server_tool::ServeArgs s;
  server_tool::add_serve_command(app, s);

  server_tool::AdminOptions admin;
  server_tool::add_admin_commands(app, admin);

  server_tool::UserOptions users;
  server_tool::add_user_commands(app, users);

  if (int rc = cli::parse(app, kProg, static_cast<int>(args.size()), args.data()); rc >= 0) return rc;
  if (int rc = server_tool::run_admin_command(app, admin); rc >= 0) return rc;
  if (int rc = server_tool::run_user_command(app, users); rc >= 0) return rc;
  return server_tool::serve(s);
}
