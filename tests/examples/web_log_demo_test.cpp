// The web-log demo: web_log_generator serves the same lines for the same seed, and
// web_log_analytics (./demo.sh) fed with fixed lines prints what Spark would for its pipeline:
// every slide the window's top three IPs that have a country, with their window and all-time
// counts, sorted by the window count.
#include <gtest/gtest.h>

#include <map>

#include "example_process.hpp"

namespace example_test {
namespace {

// Reads `n` lines from 127.0.0.1:port.
std::vector<std::string> readLines(int port, std::size_t n) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::vector<std::string> lines;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return lines;
  }
  std::string buffer;
  char chunk[4096];
  while (lines.size() < n) {
    const ssize_t got = ::read(fd, chunk, sizeof chunk);
    if (got <= 0) break;
    buffer.append(chunk, static_cast<std::size_t>(got));
    for (auto nl = buffer.find('\n'); nl != std::string::npos && lines.size() < n;
         nl = buffer.find('\n')) {
      lines.push_back(buffer.substr(0, nl));
      buffer.erase(0, nl + 1);
    }
  }
  ::close(fd);
  return lines;
}

// The generator's lines for a seed, without their times.
std::vector<std::string> generatedLines(unsigned seed, std::size_t n) {
  ExampleProcess generator("web_log_generator", {"--port", "0", "--rate", "2000", "--seed",
                                                 std::to_string(seed), "--malformed", "0"});
  int port = 0;
  const std::regex listening("listening on 127\\.0\\.0\\.1:(\\d+),");
  EXPECT_TRUE(generator.waitForErr([&](const std::string& err) {
    std::smatch m;
    if (!std::regex_search(err, m, listening)) return false;
    port = std::stoi(m[1]);
    return true;
  })) << generator.err();
  std::vector<std::string> lines = readLines(port, n);
  generator.signal(SIGINT);
  EXPECT_EQ(generator.wait(), 0) << generator.err();
  const std::regex line_format(
      R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\S* (\d+\.\d+\.\d+\.\d+) \d{3} [A-Z]+ /\S* \d+\.\d+)");
  for (auto& line : lines) {
    EXPECT_TRUE(std::regex_match(line, line_format)) << line;
    line = line.substr(line.find(' ') + 1);
  }
  return lines;
}

TEST(WebLogDemo, GeneratorSendsTheSameLinesForTheSameSeed) {
  const auto first = generatedLines(7, 200);
  ASSERT_EQ(first.size(), 200u);
  EXPECT_EQ(generatedLines(7, 200), first);
}

std::string logLines(const std::string& ip, int n) {
  std::string lines;
  for (int i = 0; i < n; ++i) {
    lines += "2026-11-22T10:00:0" + std::to_string(i) + " " + ip + " 200 GET /index.html 0.02\n";
  }
  return lines;
}

TEST(WebLogDemo, AnalyticsPrintsTopIpsWithCountriesAndTotals) {
  LineServer server;
  // 100 ms batches: a 3 s window every 1 s.
  ExampleProcess p("web_log_analytics",
                   {"--batch-ms", "100", "127.0.0.1", std::to_string(server.port())});
  ASSERT_TRUE(server.accept());
  // Lines sent once block n has printed land in slide n + 1. 10.0.0.1 has no country; "garbage"
  // is malformed; the empty line is skipped silently.
  const std::map<int, std::string> input = {
      {1, logLines("203.0.113.7", 4) + logLines("198.51.100.23", 2) + "garbage\n\n" +
              logLines("192.0.2.14", 1)},
      {2, logLines("198.51.100.23", 3) + logLines("10.0.0.1", 6) + logLines("203.0.113.42", 1)},
  };
  const int blocks = 6;
  for (int n = 1; n <= blocks; ++n) {
    ASSERT_TRUE(p.waitForCount("Time: ", static_cast<std::size_t>(n))) << p.out() << p.err();
    if (auto it = input.find(n); it != input.end()) server.send(it->second);
  }
  p.signal(SIGINT);
  ASSERT_EQ(p.wait(), 0) << p.err();

  std::string out = p.out();
  const std::string malformed = "Malformed lines skipped: 1\n";
  ASSERT_TRUE(out.ends_with(malformed)) << out;
  out.resize(out.size() - malformed.size());
  std::vector<std::string> preamble;
  const auto batches = parseBatches(out, &preamble);
  EXPECT_EQ(preamble, std::vector<std::string>{
                          "Top 3 client IPs of the last 3 s, every 1 s: (ip, country, requests in "
                          "the window, requests since the start)"});
  // Windows (3 slides): block 2 holds slide 2's lines, blocks 3 and 4 slides 2 and 3, block 5
  // slide 3. Totals count each request once, by slide.
  const std::map<int, std::vector<std::string>> expected = {
      {2,
       {"('203.0.113.7', 'Portugal', 4, 4)", "('198.51.100.23', 'Kenya', 2, 2)",
        "('192.0.2.14', 'Chile', 1, 1)"}},
      {3, {"('198.51.100.23', 'Kenya', 5, 5)", "('203.0.113.7', 'Portugal', 4, 4)"}},
      {4, {"('198.51.100.23', 'Kenya', 5, 5)", "('203.0.113.7', 'Portugal', 4, 4)"}},
      {5, {"('198.51.100.23', 'Kenya', 3, 5)", "('203.0.113.42', 'Japan', 1, 1)"}},
  };
  ASSERT_GE(batches.size(), static_cast<std::size_t>(blocks));
  for (std::size_t i = 0; i < batches.size(); ++i) {
    const int k = static_cast<int>(i) + 1;
    auto it = expected.find(k);
    EXPECT_EQ(batches[i].lines, it == expected.end() ? std::vector<std::string>{} : it->second)
        << "block " << k;
    if (i > 0) EXPECT_EQ(batches[i].time_ms - batches[i - 1].time_ms, 1000);
  }
}

}  // namespace
}  // namespace example_test
