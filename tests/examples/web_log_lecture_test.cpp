// The lecture's three web-log programs (seed 003), fed by a TCP server on 127.0.0.1 with fixed
// lines batch by batch, scaled down to 500 ms batches. Each expected output is written from
// Spark's semantics: a window at batch k holds batches k - W/B + 1 .. k, slides by one batch
// here, and prints every slide (empty windows too); sortBy orders the top three, a join does
// not order its rows (compared sorted); updateStateByKey adds each window's counts.
#include <gtest/gtest.h>

#include <map>

#include "example_process.hpp"

namespace example_test {
namespace {

const std::string kIp1 = "203.0.113.7";
const std::string kIp2 = "198.51.100.23";
const std::string kIp3 = "192.0.2.14";
const std::string kIp4 = "203.0.113.42";
const std::string kIp5 = "10.0.0.1";  // not in the country table

std::string logLines(const std::string& ip, int n) {
  std::string lines;
  for (int i = 0; i < n; ++i) {
    lines +=
        "2026-11-22T10:00:0" + std::to_string(i % 10) + " " + ip + " 200 GET /index.html 0.02\n";
  }
  return lines;
}

// What the server sends in batches 2, 3 and 4 (nothing in batch 1 nor after batch 4): every
// line the lecture counts, plus an empty line (filtered out) and lines without a second field
// (skipped and counted as malformed, where the lecture's split(' ')[1] would fail). "x y" has
// the second field "y", which the lecture counts as an IP.
const std::map<int, std::string> kInput = {
    {2, logLines(kIp1, 4) + logLines(kIp2, 2) + "garbage\n\n" + logLines(kIp3, 1)},
    {3, logLines(kIp2, 3) + "x y\n" + logLines(kIp5, 6)},
    {4, logLines(kIp3, 7) + "nospace\n" + logLines(kIp4, 2)},
};

const char kCountries[] =
    "ip,country\n"
    "203.0.113.7,Portugal\n"
    "198.51.100.23,Kenya\n"
    "\n"
    "192.0.2.14,Chile\n"
    "a line without a comma\n"
    "203.0.113.42,Japan\n";

struct FedRun {
  std::vector<Batch> batches;
  std::string err;  // the lines of stderr that start with the example's name
};

// Runs the example against the server: batch k's input is sent once batch k - 1 has printed
// (each batch prints one block), so that it arrives in batch k. Stops it with SIGINT once
// `batches` batches have printed; a graceful stop may print a few more.
FedRun runFed(const std::string& example, std::vector<std::string> args, int batches) {
  LineServer server;
  args.push_back("127.0.0.1");
  args.push_back(std::to_string(server.port()));
  ExampleProcess p(example, args);
  FedRun run;
  auto fail = [&](const std::string& what) {
    ADD_FAILURE() << what << "\nstdout:\n" << p.out() << "\nstderr:\n" << p.err();
    return run;
  };
  if (!server.accept()) return fail("the example never connected");
  for (int k = 1; k <= batches; ++k) {
    if (auto it = kInput.find(k); it != kInput.end()) server.send(it->second);
    if (!p.waitForCount("Time: ", static_cast<std::size_t>(k))) return fail("batch did not print");
  }
  p.signal(SIGINT);
  if (p.wait() != 0) return fail("the example failed");
  run.batches = parseBatches(p.out());
  // The example's own messages; the engine's log lines (a graceful stop's) are left out.
  const std::string own = example + ": ";
  std::size_t start = 0;
  const std::string err = p.err();
  for (auto nl = err.find('\n'); nl != std::string::npos; nl = err.find('\n', start)) {
    if (err.compare(start, own.size(), own) == 0) run.err += err.substr(start, nl + 1 - start);
    start = nl + 1;
  }
  return run;
}

// Compares the printed batches with `expected` (batch number -> lines; batches not listed
// print nothing), in order when `ordered`, else as sets.
void expectBatches(const FedRun& run, const std::map<int, std::vector<std::string>>& expected,
                   int min_batches, bool ordered, long long slide_ms) {
  ASSERT_GE(static_cast<int>(run.batches.size()), min_batches);
  for (std::size_t i = 0; i < run.batches.size(); ++i) {
    const int k = static_cast<int>(i) + 1;
    auto it = expected.find(k);
    std::vector<std::string> want = it == expected.end() ? std::vector<std::string>{} : it->second;
    if (ordered) {
      EXPECT_EQ(run.batches[i].lines, want) << "batch " << k;
    } else {
      EXPECT_EQ(sorted(run.batches[i].lines), sorted(want)) << "batch " << k;
    }
    if (i > 0) EXPECT_EQ(run.batches[i].time_ms - run.batches[i - 1].time_ms, slide_ms);
  }
}

std::string row(const std::string& ip, long long n) {
  return "('" + ip + "', " + std::to_string(n) + ")";
}

TEST(WebLogLectureExamples, TopIps) {
  // Window 3 batches: batch k sums batches k-2..k, sorted by count, first three.
  const FedRun run = runFed("web_log_top_ips",
                            {"--batch-ms", "500", "--window-ms", "1500", "--slide-ms", "500"}, 8);
  expectBatches(run,
                {
                    {2, {row(kIp1, 4), row(kIp2, 2), row(kIp3, 1)}},
                    {3, {row(kIp5, 6), row(kIp2, 5), row(kIp1, 4)}},
                    {4, {row(kIp3, 8), row(kIp5, 6), row(kIp2, 5)}},
                    {5, {row(kIp3, 7), row(kIp5, 6), row(kIp2, 3)}},
                    {6, {row(kIp3, 7), row(kIp4, 2)}},
                },
                8, /*ordered=*/true, 500);
  EXPECT_EQ(run.err, "web_log_top_ips: 2 malformed lines (no second field) skipped\n");
}

TEST(WebLogLectureExamples, TopIpsWithCountries) {
  TempDir dir("sluice_web_log_lecture");
  writeFile(dir.path() / "countries.csv", kCountries);
  // The top three of TopIps, joined with the table: 10.0.0.1 has no country and drops out.
  const FedRun run = runFed("web_log_top_ips_countries",
                            {"--batch-ms", "500", "--window-ms", "1500", "--slide-ms", "500",
                             "--countries", (dir.path() / "countries.csv").string()},
                            8);
  expectBatches(run,
                {
                    {2,
                     {"('203.0.113.7', (4, 'Portugal'))", "('198.51.100.23', (2, 'Kenya'))",
                      "('192.0.2.14', (1, 'Chile'))"}},
                    {3, {"('198.51.100.23', (5, 'Kenya'))", "('203.0.113.7', (4, 'Portugal'))"}},
                    {4, {"('192.0.2.14', (8, 'Chile'))", "('198.51.100.23', (5, 'Kenya'))"}},
                    {5, {"('192.0.2.14', (7, 'Chile'))", "('198.51.100.23', (3, 'Kenya'))"}},
                    {6, {"('192.0.2.14', (7, 'Chile'))", "('203.0.113.42', (2, 'Japan'))"}},
                },
                8, /*ordered=*/false, 500);
  EXPECT_EQ(run.err,
            "web_log_top_ips_countries: 1 country lines without a comma skipped\n"
            "web_log_top_ips_countries: 2 malformed lines (no second field) skipped\n");
}

TEST(WebLogLectureExamples, RunningTotals) {
  TempDir dir("sluice_web_log_lecture");
  writeFile(dir.path() / "countries.csv", kCountries);
  // Window 2 batches sliding by 1 (the lecture's window(10, 5) on 5 s batches): batch k sums
  // batches k-1..k. The running total adds every window's count, so each request counts twice
  // once it has left the window. Windows: k=2 {1:4, 2:2, 3:1}; k=3 {1:4, 2:5, 3:1, 5:6, y:1};
  // k=4 {2:3, 3:7, 4:2, 5:6, y:1}; k=5 {3:7, 4:2}. Totals after k=2: {1:4, 2:2, 3:1}; k=3:
  // {1:8, 2:7, 3:2, 5:6, y:1}; k=4: {1:8, 2:10, 3:9, 4:2, 5:12, y:2}; k=5: 3:16, 4:4.
  const FedRun run = runFed(
      "web_log_running_totals",
      {"--batch-ms", "500", "--window-ms", "1000", "--slide-ms", "500", "--countries",
       (dir.path() / "countries.csv").string(), "--checkpoint", (dir.path() / "ckpt").string()},
      8);
  expectBatches(
      run,
      {
          {2,
           {"('203.0.113.7', ((4, 'Portugal'), 4))", "('198.51.100.23', ((2, 'Kenya'), 2))",
            "('192.0.2.14', ((1, 'Chile'), 1))"}},
          {3, {"('198.51.100.23', ((5, 'Kenya'), 7))", "('203.0.113.7', ((4, 'Portugal'), 8))"}},
          {4, {"('192.0.2.14', ((7, 'Chile'), 9))", "('198.51.100.23', ((3, 'Kenya'), 10))"}},
          {5, {"('192.0.2.14', ((7, 'Chile'), 16))", "('203.0.113.42', ((2, 'Japan'), 4))"}},
      },
      8, /*ordered=*/false, 500);
  EXPECT_EQ(run.err,
            "web_log_running_totals: 1 country lines without a comma skipped\n"
            "web_log_running_totals: 2 malformed lines (no second field) skipped\n");
}

}  // namespace
}  // namespace example_test
