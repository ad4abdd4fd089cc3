#include "admin.hpp"

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string_view>

#include <nlohmann/json.hpp>

#include "cli/cli.hpp"
#include "m2m/frame.hpp"
#include "platform/csv.hpp"
#include "platform/store.hpp"

namespace m2m::server_tool {

namespace {
constexpr std::string_view kProg = "m2m-server";
using platform::Store;

int fail_with(const Error& e, int code = cli::failure) {
  cli::error(kProg, e.message);
  return code;
}

CLI::App* leaf(CLI::App& parent, const char* name, const char* desc, AdminOptions& o) {
  auto* c = parent.add_subcommand(name, desc);
  c->add_option("--db", o.db, "registry file (SQLite; created when missing)")->type_name("FILE");
  return c;
}

void add_common_record_options(CLI::App& c, AdminOptions& o) {
  c.add_option("--password", o.password, "password: 16 hex digits or text:… (at most 8 bytes)")->required();
  c.add_flag("--disabled", o.disabled, "add the record disabled (logins are refused)");
  c.add_option("--description", o.description, "free text");
  c.add_flag("--replace", o.replace, "overwrite an existing record with the same id");
}

// Reads CSV from stdin: a header row equal to `header`, then one record per line; all rows go
// in one transaction (all or nothing).
template <class Parse, class Put>
int import_csv(Store& store, std::string_view header, std::string_view what, Parse parse, Put put) {
  auto t0 = std::chrono::steady_clock::now();
  platform::Transaction tx(store.db());
  if (auto r = tx.begin(); !r) return fail_with(r.error());
  std::string line;
  std::uint64_t lineno = 0, count = 0;
  while (std::getline(std::cin, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (lineno == 1) {
      if (line != header) {
        cli::error(kProg, "stdin:1: expected the header row '" + std::string(header) + "'");
        return cli::protocol;
      }
      continue;
    }
    if (line.empty()) continue;
    auto fields = platform::parse_csv_line(line);
    auto rec = fields ? parse(*fields) : decltype(parse(*fields))(unexpected(fields.error()));
    if (!rec) {
      cli::error(kProg, "stdin:" + std::to_string(lineno) + ": " + rec.error().message + " (nothing imported)");
      return cli::protocol;
    }
    if (auto r = put(*rec); !r) {
      cli::error(kProg, "stdin:" + std::to_string(lineno) + ": " + r.error().message + " (nothing imported)");
      return cli::failure;
    }
    ++count;
  }
  if (lineno == 0) {
    cli::error(kProg, "stdin: empty input, expected the header row '" + std::string(header) + "'");
    return cli::protocol;
  }
  if (auto r = tx.commit(); !r) return fail_with(r.error());
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "%s: imported %llu %.*s in %.2fs\n", kProg.data(), static_cast<unsigned long long>(count),
               static_cast<int>(what.size()), what.data(), secs);
  return cli::ok;
}

int device_command(const CLI::App& cmd, const AdminOptions& o) {
  auto store = Store::open(o.db);
  if (!store) return fail_with(store.error());
  const std::string name = cmd.get_name();
  if (name == "add") {
    platform::DeviceRecord d;
    auto id = ai::parse_device(o.ids.at(0));
    if (!id) return fail_with(id.error(), cli::usage);
    auto pw = ai::parse_password(o.password);
    if (!pw) return fail_with(pw.error(), cli::usage);
    d.id = *id;
    d.password = *pw;
    if (!o.group.empty()) d.group = o.group;
    if (auto r = platform::check_group_name(d.group); !r) return fail_with(r.error(), cli::usage);
    d.enabled = !o.disabled;
    d.description = o.description;
    if (auto r = store->put_device(d, o.replace ? Store::Mode::upsert : Store::Mode::insert); !r)
      return fail_with(r.error());
    return cli::ok;
  }
  if (name == "remove") {
    int rc = cli::ok;
    for (const auto& s : o.ids) {
      auto id = ai::parse_device(s);
      if (!id) return fail_with(id.error(), cli::usage);
      auto r = store->remove_device(*id);
      if (!r) return fail_with(r.error());
      if (!*r) {
        cli::error(kProg, "no device " + ai::format_device(*id));
        rc = cli::failure;
      }
    }
    return rc;
  }
  if (name == "list") {
    auto r = store->each_device([](const platform::DeviceRecord& d) {
      nlohmann::ordered_json j{{"id", ai::format_device(d.id)}, {"group", d.group}, {"enabled", d.enabled},
                       {"description", d.description}};
      cli::write_line(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    });
    return r ? cli::ok : fail_with(r.error());
  }
  if (name == "export") {
    cli::write_line(platform::kDeviceCsvHeader);
    std::string out;
    auto r = store->each_device([&](const platform::DeviceRecord& d) {
      out += platform::join_csv(platform::device_to_csv(d));
      out += '\n';
      if (out.size() > 1 << 16) {
        std::fwrite(out.data(), 1, out.size(), stdout);
        out.clear();
      }
    });
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
    return r ? cli::ok : fail_with(r.error());
  }
  // import
  return import_csv(
      *store, platform::kDeviceCsvHeader, "devices",
      [](const std::vector<std::string>& f) { return platform::device_from_csv(f); },
      [&](const platform::DeviceRecord& d) { return store->put_device(d, Store::Mode::upsert); });
}

int account_command(const CLI::App& cmd, const AdminOptions& o) {
  auto store = Store::open(o.db);
  if (!store) return fail_with(store.error());
  const std::string name = cmd.get_name();
  auto parse_id = [](const std::string& s) -> Result<std::uint64_t> {
    auto a = platform::account_from_csv({s, "", "0000000000000000", "", "1", ""});
    if (!a) return unexpected(a.error());
    return a->id;
  };
  if (name == "add") {
    platform::AccountRecord a;
    auto id = parse_id(o.ids.at(0));
    if (!id) return fail_with(id.error(), cli::usage);
    auto pw = ai::parse_password(o.password);
    if (!pw) return fail_with(pw.error(), cli::usage);
    a.id = *id;
    a.password = *pw;
    a.name = o.name;
    if (auto r = platform::parse_group_list(o.groups, a); !r) return fail_with(r.error(), cli::usage);
    a.enabled = !o.disabled;
    a.description = o.description;
    if (auto r = store->put_account(a, o.replace ? Store::Mode::upsert : Store::Mode::insert); !r)
      return fail_with(r.error());
    return cli::ok;
  }
  if (name == "remove") {
    int rc = cli::ok;
    for (const auto& s : o.ids) {
      auto id = parse_id(s);
      if (!id) return fail_with(id.error(), cli::usage);
      auto r = store->remove_account(*id);
      if (!r) return fail_with(r.error());
      if (!*r) {
        cli::error(kProg, "no account " + std::to_string(*id));
        rc = cli::failure;
      }
    }
    return rc;
  }
  if (name == "list") {
    auto r = store->each_account([](const platform::AccountRecord& a) {
      nlohmann::ordered_json j{{"id", a.id}, {"name", a.name}, {"groups", platform::format_group_list(a)},
                       {"enabled", a.enabled}, {"description", a.description}};
      cli::write_line(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    });
    return r ? cli::ok : fail_with(r.error());
  }
  if (name == "export") {
    cli::write_line(platform::kAccountCsvHeader);
    auto r = store->each_account(
        [](const platform::AccountRecord& a) { cli::write_line(platform::join_csv(platform::account_to_csv(a))); });
    return r ? cli::ok : fail_with(r.error());
  }
  return import_csv(
      *store, platform::kAccountCsvHeader, "accounts",
      [](const std::vector<std::string>& f) { return platform::account_from_csv(f); },
      [&](const platform::AccountRecord& a) { return store->put_account(a, Store::Mode::upsert); });
}
}  // namespace

void add_admin_commands(CLI::App& app, AdminOptions& o) {
  auto* dev = app.add_subcommand("device", "manage registered devices in the registry file (offline)");
  dev->require_subcommand(1);
  auto* add = leaf(*dev, "add", "register one device", o);
  add->add_option("id", o.ids, "device id (16 hex digits or MAC)")->required()->expected(1);
  add->add_option("--group", o.group, "group name (default: default)");
  add_common_record_options(*add, o);
  leaf(*dev, "remove", "remove devices", o)->add_option("id", o.ids, "device ids")->required();
  leaf(*dev, "list", "print devices as JSON Lines (without passwords)", o);
  leaf(*dev, "import", "read CSV 'id,password,group,enabled,description' from stdin (one transaction)", o);
  leaf(*dev, "export", "write every device as CSV to stdout", o);

  auto* acc = app.add_subcommand("account", "manage platform client accounts in the registry file (offline)");
  acc->require_subcommand(1);
  auto* aadd = leaf(*acc, "add", "register one client account", o);
  aadd->add_option("id", o.ids, "numeric account id (the EF 00 login's header id)")->required()->expected(1);
  aadd->add_option("--name", o.name, "account name");
  aadd->add_option("--groups", o.groups, "groups the account may see: '*' or 'a;b'");
  add_common_record_options(*aadd, o);
  leaf(*acc, "remove", "remove accounts", o)->add_option("id", o.ids, "account ids")->required();
  leaf(*acc, "list", "print accounts as JSON Lines (without passwords)", o);
  leaf(*acc, "import", "read CSV 'id,name,password,groups,enabled,description' from stdin (one transaction)", o);
  leaf(*acc, "export", "write every account as CSV to stdout", o);
}

int run_admin_command(const CLI::App& app, const AdminOptions& o) {
  for (const char* top : {"device", "account"}) {
    const CLI::App* sub = app.get_subcommand(top);
    if (!sub->parsed()) continue;
    for (const CLI::App* leafcmd : sub->get_subcommands())
      return std::string_view(top) == "device" ? device_command(*leafcmd, o) : account_command(*leafcmd, o);
  }
  return -1;
}

}  // namespace m2m::server_tool
