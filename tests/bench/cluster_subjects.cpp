// The alternative to the replicated directory, measured (issue #13: "per-device subjects vs a
// directory"): a node subscribes one NATS subject per device it holds (m2m.dev.<id>, the way a
// sender would reach a device without knowing its node). Prints this process's VmRSS growth
// per subscription (nats.c with its shared delivery pool, else a thread per subscription);
// tests/bench/cluster_bench.py reads the nats-server's growth around it.
//
//   bench_cluster_subjects --url nats://127.0.0.1:PORT [--count 20000]
#include <nats/nats.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace {
long rss_kib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  return 0;
}
void on_msg(natsConnection*, natsSubscription*, natsMsg* m, void*) { natsMsg_Destroy(m); }
}  // namespace

int main(int argc, char** argv) {
  const char* url = nullptr;
  int count = 20000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--url")) url = argv[i + 1];
    if (!std::strcmp(argv[i], "--count")) count = std::atoi(argv[i + 1]);
  }
  if (!url || count <= 0) {
    std::fprintf(stderr, "usage: bench_cluster_subjects --url nats://HOST:PORT [--count N]\n");
    return 2;
  }
  natsOptions* o = nullptr;
  natsConnection* nc = nullptr;
  if (natsOptions_Create(&o) != NATS_OK || natsOptions_SetURL(o, url) != NATS_OK ||
      natsOptions_UseGlobalMessageDelivery(o, true) != NATS_OK || natsConnection_Connect(&nc, o) != NATS_OK) {
    std::fprintf(stderr, "bench_cluster_subjects: cannot connect to %s\n", url);
    return 6;
  }
  std::vector<natsSubscription*> subs(static_cast<std::size_t>(count));
  const long before = rss_kib();
  char subject[64];
  for (int i = 0; i < count; ++i) {
    std::snprintf(subject, sizeof subject, "m2m.dev.%016X", 0x0C000000 + i);
    if (natsConnection_Subscribe(&subs[static_cast<std::size_t>(i)], nc, subject, on_msg, nullptr) != NATS_OK) {
      std::fprintf(stderr, "bench_cluster_subjects: subscribe %d failed\n", i);
      return 1;
    }
  }
  natsConnection_FlushTimeout(nc, 10000);
  const long after = rss_kib();
  std::printf("per-device subjects: %d subscriptions, client RSS %ld -> %ld KiB (%.1f B per device)\n", count, before,
              after, static_cast<double>(after - before) * 1024.0 / count);
  std::fflush(stdout);
  // Hold them while the caller reads the server's RSS; it closes our stdin when done.
  char c;
  while (::read(0, &c, 1) > 0) {
  }
  for (natsSubscription* s : subs) natsSubscription_Destroy(s);
  natsConnection_Destroy(nc);
  natsOptions_Destroy(o);
  return 0;
}
