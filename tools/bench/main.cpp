/// wsbench: the load generator. One workload against one server (or the
/// nodes of one cluster) per run; prints one JSON object (stdout) and a
/// readable table (stderr).
/// Usage: see `wsbench --help` and docs/benchmarks.md.

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/serialize.hpp>

#include "tools/bench/workloads.hpp"

namespace {

constexpr const char* usage =
    R"(usage: wsbench --workload W --dialect D (--port P | --ports P1,P2,...) [options]

  --workload W     roundtrip | fanout | idle | detached | storm | connrate | failover
  --dialect D      wsvisor (wsvisor.v1 on /ws) | raw (echo/broadcast peers) | socketio
  --host H         server IPv4 address (127.0.0.1)
  --port P         server port
  --ports P1,P2,.. a cluster's nodes on --host, instead of --port: client i connects to
                   node i mod K; fanout and storm put their publisher on the first,
                   failover on the second
  --path P         override the upgrade path (default: per dialect and workload)
  --label L        the server's name in the output (default: the dialect)
  --server-pid P   read the server's CPU time and RSS from /proc; a list P1,P2,...
                   (a cluster's processes) is summed
  -n N             connections, subscribers or sessions (100)
  --payload B      payload bytes (64)
  --filler F       what pads the payload: x (the letter repeated) | ticks (text shaped
                   like market data, every message different: realistic for compression)
  --format F       wsvisor: json (wsvisor.v1, the default) | msgpack (wsvisor.v1.msgpack:
                   every frame a MessagePack map in a binary message)
  --deflate on     offer permessage-deflate on every connection (compressed both ways
                   when the server accepts; fanout reports compressed_connections)
  --warmup S       seconds before measuring (1)
  --duration S     seconds measured (5); storm, failover: seconds of traffic after the
                   last session is back
  --settle S       idle/detached: seconds before reading RSS (2)
  --threads T      generator threads (1)
  --window W       fanout: messages in flight (4)
  --rate R         storm, failover: publishes per second (10)
  --reconnect-delay S  storm: seconds between the cut and the reconnect (0)
  --kill-pid P     failover: the process of the first node of --ports, which it kills
                   (SIGKILL) once traffic flows; its clients resume on the other nodes
  --concurrency C  connrate: clients connecting at once (32)
  --batch B        connections opened at once while ramping up (500)
  --source-ips K   spread loopback clients over 127.0.0.1..K (8)
  --ack-every K    wsvisor: ack after K messages (64)
  --timeout S      bound on any phase (120)
  --cdf FILE       write the latency CDF (percentile, microseconds)
  --json FILE      also append the JSON object to FILE
)";

[[noreturn]] void bad(const std::string& what) {
  std::cerr << "wsbench: " << what << "\n" << usage;
  std::exit(2);
}

double number(std::string_view flag, const char* text) {
  char* end = nullptr;
  double v = std::strtod(text, &end);
  if (end == text || *end != '\0' || v < 0)
    bad(std::string{flag} + " wants a non-negative number, got '" + text + "'");
  return v;
}

/// A comma-separated list of numbers, each in [lo, hi].
std::vector<std::uint32_t> number_list(std::string_view flag, std::string_view text,
                                       std::uint32_t lo, std::uint32_t hi) {
  std::vector<std::uint32_t> out;
  for (std::size_t at = 0; at <= text.size();) {
    auto comma = std::min(text.find(',', at), text.size());
    std::string item{text.substr(at, comma - at)};
    auto v = number(flag, item.c_str());
    if (v < lo || v > hi || v != static_cast<std::uint32_t>(v))
      bad(std::string{flag} + " out of range: " + item);
    out.push_back(static_cast<std::uint32_t>(v));
    at = comma + 1;
  }
  return out;
}

void print_table(const boost::json::object& r) {
  std::fprintf(stderr, "%-22s %s\n", "field", "value");
  for (const auto& [k, v] : r) {
    std::string value;
    if (v.is_string()) {
      value = v.get_string();
    } else if (v.is_double()) {
      char buf[32];
      double x = v.get_double();
      std::snprintf(buf, sizeof buf, x >= 100 || x <= -100 ? "%.0f" : "%.3f", x);
      value = buf;
    } else {
      value = boost::json::serialize(v);
    }
    std::fprintf(stderr, "%-22s %s\n", std::string{k}.c_str(), value.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  wsbench::options o;
  std::string json_file;
  bool have_port = false, have_ports = false, have_dialect = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::cout << usage;
      return 0;
    }
    if (i + 1 >= argc) bad("missing value after " + std::string{flag});
    const char* v = argv[++i];
    auto count = [&] { return static_cast<std::uint32_t>(number(flag, v)); };
    if (flag == "--workload")
      o.workload = v;
    else if (flag == "--dialect") {
      auto d = wsbench::parse_dialect(v);
      if (!d) bad(std::string{"unknown dialect '"} + v + "'");
      o.to.kind = *d;
      have_dialect = true;
    } else if (flag == "--host")
      o.to.host = v;
    else if (flag == "--port") {
      auto p = number(flag, v);
      if (p < 1 || p > 65535) bad(std::string{"--port out of range: "} + v);
      o.to.port = static_cast<std::uint16_t>(p);
      have_port = true;
    } else if (flag == "--ports") {
      o.to.ports.clear();
      for (auto p : number_list(flag, v, 1, 65535))
        o.to.ports.push_back(static_cast<std::uint16_t>(p));
      o.to.port = o.to.ports.front();
      have_ports = true;
    } else if (flag == "--path")
      o.to.path = v;
    else if (flag == "--label")
      o.label = v;
    else if (flag == "--server-pid") {
      o.server_pids.clear();
      for (auto p : number_list(flag, v, 1, 0x7fffffff))
        o.server_pids.push_back(static_cast<pid_t>(p));
    } else if (flag == "-n")
      o.n = count();
    else if (flag == "--payload")
      o.payload = count();
    else if (flag == "--filler") {
      auto f = wsbench::parse_filler(v);
      if (!f) bad(std::string{"unknown filler '"} + v + "' (x or ticks)");
      o.fill = *f;
    } else if (flag == "--format") {
      std::string_view f = v;
      if (f != "json" && f != "msgpack")
        bad(std::string{"--format wants json or msgpack, got '"} + v + "'");
      o.to.msgpack = f == "msgpack";
    } else if (flag == "--deflate") {
      std::string_view on = v;
      if (on != "on" && on != "off") bad(std::string{"--deflate wants on or off, got '"} + v + "'");
      o.to.deflate = on == "on";
    } else if (flag == "--warmup")
      o.warmup_s = number(flag, v);
    else if (flag == "--duration")
      o.duration_s = number(flag, v);
    else if (flag == "--settle")
      o.settle_s = number(flag, v);
    else if (flag == "--threads")
      o.threads = static_cast<int>(count());
    else if (flag == "--window")
      o.window = count();
    else if (flag == "--rate")
      o.rate = number(flag, v);
    else if (flag == "--reconnect-delay")
      o.reconnect_delay_s = number(flag, v);
    else if (flag == "--kill-pid") {
      auto p = number_list(flag, v, 1, 0x7fffffff);
      if (p.size() != 1) bad("--kill-pid takes one process");
      o.kill_pid = static_cast<pid_t>(p.front());
    } else if (flag == "--concurrency")
      o.concurrency = count();
    else if (flag == "--batch")
      o.batch = count();
    else if (flag == "--source-ips")
      o.to.source_ips = static_cast<int>(count());
    else if (flag == "--ack-every")
      o.to.ack_every = count();
    else if (flag == "--timeout")
      o.timeout_s = number(flag, v);
    else if (flag == "--cdf")
      o.cdf_file = v;
    else if (flag == "--json")
      json_file = v;
    else
      bad("unknown option " + std::string{flag});
  }
  if (o.workload.empty()) bad("--workload is required");
  if (!have_dialect) bad("--dialect is required");
  if (have_port && have_ports) bad("--port and --ports exclude each other");
  if (!have_port && !have_ports) bad("--port (or --ports) is required");
  if (o.n == 0 || o.concurrency == 0) bad("-n and --concurrency must be at least 1");
  if (o.threads < 1 || o.threads > 64) bad("--threads must be 1..64");

  try {
    auto result = wsbench::run_workload(o);
    auto line = boost::json::serialize(result);
    std::cout << line << std::endl;
    if (!json_file.empty()) {
      std::ofstream f{json_file, std::ios::app};
      f << line << '\n';
      if (!f) throw std::runtime_error("cannot append to " + json_file);
    }
    print_table(result);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "wsbench: " << o.workload << " against "
              << (o.label.empty() ? wsbench::to_string(o.to.kind) : o.label) << ": " << e.what()
              << '\n';
    return 1;
  }
}
