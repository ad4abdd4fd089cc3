#include "admin.hpp"

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/app.hpp"
#include "cli/cli.hpp"
#include "m2m/frame.hpp"
#include "platform/csv.hpp"
#include "cluster/kv_registry.hpp"
#include "platform/store.hpp"

namespace m2m::server_tool {

namespace {
constexpr std::string_view kProg = "m2m-server";
using platform::RecordStore;
using platform::Store;

int fail_with(const Error& e, int code = cli::failure) {
  cli::error(kProg, e.message);
  return code;
}

std::string record_name(const platform::DeviceRecord& d) { return "device " + ai::format_device(d.id); }
std::string record_name(const platform::AccountRecord& a) { return "account " + std::to_string(a.id); }

CLI::App* leaf(CLI::App& parent, const char* name, const char* desc, AdminOptions& o) {
  auto* c = parent.add_subcommand(name, desc);
  const bool creates = std::string_view(name) == "add" || std::string_view(name) == "import";
  c->add_option("--db", o.db, creates ? "registry file (SQLite; created when missing)" : "registry file (SQLite; must exist)")
      ->type_name("FILE");
  c->add_option("--cluster", o.cluster,
                "the registry of a cluster: the bucket in NATS at this address, instead of a file (m2m-server(1), CLUSTER)")
      ->type_name("nats://HOST:PORT");
  return c;
}

void add_common_record_options(CLI::App& c, AdminOptions& o) {
  c.add_option("--password", o.password, "password: 16 hex digits or text:… (at most 8 bytes)")->required()->type_name("P");
  c.add_flag("--disabled", o.disabled, "add the record disabled (logins are refused)");
  c.add_option("--description", o.description, "free text")->type_name("STRING");
  c.add_flag("--replace", o.replace, "overwrite an existing record with the same id");
}

// Which commands may create the registry file: only those that write records. A read (list,
// export) or a remove of a file that is not there is an error naming the file.
Store::Access access_for(const std::string& leaf) {
  if (leaf == "add" || leaf == "import") return Store::Access::create;
  if (leaf == "remove") return Store::Access::read_write;
  return Store::Access::read_only;
}

// The registry the command works on: the file, or with --cluster the cluster's bucket (a
// command that writes creates it; the others need it to exist, as for the file).
Result<std::unique_ptr<RecordStore>> open_records(const AdminOptions& o, const std::string& leaf) {
  if (!o.cluster.empty()) {
    auto how = leaf == "add" || leaf == "import" ? cluster::KvRecords::Open::create : cluster::KvRecords::Open::existing;
    auto kv = cluster::KvRecords::open(o.cluster, how);
    if (!kv) return unexpected(kv.error());
    return std::unique_ptr<RecordStore>(std::make_unique<cluster::KvRecords>(std::move(*kv)));
  }
  auto store = Store::open(o.db, access_for(leaf));
  if (!store) return unexpected(store.error());
  return std::unique_ptr<RecordStore>(std::make_unique<Store>(std::move(*store)));
}

std::string line_ref(std::uint64_t line) { return "stdin:" + std::to_string(line); }

// Reads CSV from stdin: a header row equal to `header`, then one record per row (a quoted
// field may span lines). Everything is read and checked before the registry is opened, so a
// command that writes our input (`device export | device import` on one file) never waits
// for a lock we hold, and bad input leaves the file as it was. All rows then go in one
// transaction (all or nothing). An id given twice is an error: which row should win is the
// user's decision, not ours.
template <class Record, class Parse, class Put>
int import_csv(const AdminOptions& o, std::string_view header, std::string_view what, Parse parse, Put put) {
  auto t0 = std::chrono::steady_clock::now();
  platform::CsvReader reader(std::cin);
  std::vector<std::string> fields;
  std::vector<Record> records;
  std::vector<std::uint64_t> lines;
  bool seen_header = false;
  for (;;) {
    auto more = reader.next(fields);
    if (!more) {
      cli::error(kProg, line_ref(more.error().offset) + ": " + more.error().message + " (nothing imported)");
      return cli::protocol;
    }
    if (!*more) break;
    if (!seen_header) {
      if (platform::join_csv(fields) != header) {
        cli::error(kProg, line_ref(reader.record_line()) + ": expected the header row '" + std::string(header) + "'");
        return cli::protocol;
      }
      seen_header = true;
      continue;
    }
    if (fields.size() == 1 && fields[0].empty()) continue;  // a blank line
    auto rec = parse(fields);
    if (!rec) {
      cli::error(kProg, line_ref(reader.record_line()) + ": " + rec.error().message + " (nothing imported)");
      return cli::protocol;
    }
    records.push_back(std::move(*rec));
    lines.push_back(reader.record_line());
  }
  if (!seen_header) {
    cli::error(kProg, "stdin: empty input, expected the header row '" + std::string(header) + "'");
    return cli::protocol;
  }
  std::unordered_map<std::uint64_t, std::size_t> first;  // id -> row index
  std::size_t dups = 0;
  for (std::size_t i = 0; i < records.size(); ++i) {
    auto [it, fresh] = first.try_emplace(records[i].id, i);
    if (fresh) continue;
    if (++dups <= 20)
      cli::error(kProg, line_ref(lines[i]) + ": " + record_name(records[i]) + " again (first on line " +
                            std::to_string(lines[it->second]) + ")");
  }
  if (dups) {
    cli::error(kProg, "stdin: " + std::to_string(dups) + " duplicate id" + (dups == 1 ? "" : "s") +
                          (dups > 20 ? " (the first 20 shown)" : "") + ", nothing imported");
    return cli::protocol;
  }
  auto store = open_records(o, "import");
  if (!store) return fail_with(store.error(), store.error().kind == ErrorKind::unavailable ? cli::unavailable : cli::failure);
  if (auto r = (*store)->begin(); !r) return fail_with(r.error());
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (auto r = put(**store, records[i]); !r) {
      // The file takes all rows in one transaction; the bucket has none, and rows are written
      // as they come (an import writes whole records: running it again finishes the job).
      cli::error(kProg, line_ref(lines[i]) + ": " + r.error().message +
                            ((*store)->atomic_batches() ? " (nothing imported)"
                                                        : " (" + cli::plural(i, what) +
                                                              " before it written; run the import again to finish)"));
      return cli::failure;
    }
  }
  if (auto r = (*store)->commit(); !r) return fail_with(r.error());
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "%s: imported %s in %.2fs\n", kProg.data(), cli::plural(records.size(), what).c_str(), secs);
  return cli::ok;
}

int device_command(const CLI::App& cmd, const AdminOptions& o) {
  const std::string name = cmd.get_name();
  if (name == "import")
    return import_csv<platform::DeviceRecord>(
        o, platform::kDeviceCsvHeader, "device",
        [](const std::vector<std::string>& f) { return platform::device_from_csv(f); },
        [](RecordStore& st, const platform::DeviceRecord& d) { return st.put_device(d, RecordStore::Mode::upsert); });
  auto opened = open_records(o, name);
  if (!opened) return fail_with(opened.error(), opened.error().kind == ErrorKind::unavailable ? cli::unavailable : cli::failure);
  RecordStore* store = opened->get();
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
    if (auto r = store->put_device(d, o.replace ? RecordStore::Mode::upsert : RecordStore::Mode::insert); !r)
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
  return fail_with(Error{ErrorKind::bad_value, 0, "unknown subcommand " + name}, cli::usage);
}

int account_command(const CLI::App& cmd, const AdminOptions& o) {
  const std::string name = cmd.get_name();
  if (name == "import")
    return import_csv<platform::AccountRecord>(
        o, platform::kAccountCsvHeader, "account",
        [](const std::vector<std::string>& f) { return platform::account_from_csv(f); },
        [](RecordStore& st, const platform::AccountRecord& a) { return st.put_account(a, RecordStore::Mode::upsert); });
  auto opened = open_records(o, name);
  if (!opened) return fail_with(opened.error(), opened.error().kind == ErrorKind::unavailable ? cli::unavailable : cli::failure);
  RecordStore* store = opened->get();
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
    if (auto r = store->put_account(a, o.replace ? RecordStore::Mode::upsert : RecordStore::Mode::insert); !r)
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
  return fail_with(Error{ErrorKind::bad_value, 0, "unknown subcommand " + name}, cli::usage);
}
}  // namespace

void add_admin_commands(CLI::App& app, AdminOptions& o) {
  auto* dev = app.add_subcommand("device", "manage registered devices in the registry (the file, or a cluster's bucket with --cluster)");
  dev->require_subcommand(1);
  auto* add = leaf(*dev, "add", "register one device", o);
  add->add_option("id", o.ids, "device id (16 hex digits or MAC)")->required()->expected(1)->type_name("ID");
  add->add_option("--group", o.group, "group name (default: default)")->type_name("NAME");
  add_common_record_options(*add, o);
  leaf(*dev, "remove", "remove devices", o)->add_option("id", o.ids, "device ids")->required()->type_name("ID");
  leaf(*dev, "list", "print devices as JSON Lines (without passwords)", o);
  leaf(*dev, "import", "read CSV 'id,password,group,enabled,description' from stdin (a file: one transaction)", o);
  leaf(*dev, "export", "write every device as CSV to stdout", o);

  auto* acc = app.add_subcommand("account", "manage platform client accounts in the registry (the file, or a cluster's bucket with --cluster)");
  acc->require_subcommand(1);
  auto* aadd = leaf(*acc, "add", "register one client account", o);
  aadd->add_option("id", o.ids, "numeric account id (the EF 00 login's header id)")->required()->expected(1)->type_name("ID");
  aadd->add_option("--name", o.name, "account name")->type_name("NAME");
  aadd->add_option("--groups", o.groups, "groups the account may see: '*' or 'a;b'")->type_name("GROUPS");
  add_common_record_options(*aadd, o);
  leaf(*acc, "remove", "remove accounts", o)->add_option("id", o.ids, "account ids")->required()->type_name("ID");
  leaf(*acc, "list", "print accounts as JSON Lines (without passwords)", o);
  leaf(*acc, "import", "read CSV 'id,name,password,groups,enabled,description' from stdin (a file: one transaction)", o);
  leaf(*acc, "export", "write every account as CSV to stdout", o);
}

int run_admin_command(const CLI::App& app, const AdminOptions& o) {
  for (const char* top : {"device", "account"}) {
    const CLI::App* sub = app.get_subcommand(top);
    if (!sub->parsed()) continue;
    for (const CLI::App* leafcmd : sub->get_subcommands()) {
      if (!o.cluster.empty() && leafcmd->get_option("--db")->count()) {
        cli::error(kProg, "--db and --cluster: give one (the file of a single server, or the bucket of a cluster)");
        return cli::usage;
      }
      int rc = std::string_view(top) == "device" ? device_command(*leafcmd, o) : account_command(*leafcmd, o);
      if (!o.cluster.empty()) cluster::close_nats();  // the bucket's connection is closed by now
      return rc;
    }
  }
  return -1;
}

}  // namespace m2m::server_tool
