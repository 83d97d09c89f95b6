// A Kafka cluster for the tests: librdkafka's mock cluster (no Kafka broker is packaged in
// Debian), hosted by a process of its own so that a job under test can be killed while the
// cluster and its data live on. It listens on 127.0.0.1, prints its bootstrap servers on one
// line, and runs until its standard input closes (or SIGTERM).
//
// Usage: kafka_mock_cluster BROKERS TOPIC:PARTITIONS...
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: kafka_mock_cluster BROKERS TOPIC:PARTITIONS...\n";
    return 2;
  }
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // Errors only: the notice that this client has no bootstrap servers is expected.
  rd_kafka_conf_set(conf, "log_level", "3", error, sizeof error);
  // The mock cluster needs a client instance for its bookkeeping; it never produces.
  rd_kafka_t* handle = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
  if (handle == nullptr) {
    std::cerr << "kafka_mock_cluster: " << error << "\n";
    return 1;
  }
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(handle, std::atoi(argv[1]));
  if (cluster == nullptr) {
    std::cerr << "kafka_mock_cluster: cannot create the mock cluster\n";
    return 1;
  }
  for (int i = 2; i < argc; ++i) {
    const std::string spec = argv[i];
    const auto colon = spec.find(':');
    if (colon == std::string::npos) {
      std::cerr << "kafka_mock_cluster: '" << spec << "' is not TOPIC:PARTITIONS\n";
      return 2;
    }
    const std::string topic = spec.substr(0, colon);
    const rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(
        cluster, topic.c_str(), std::atoi(spec.c_str() + colon + 1), 1);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::cerr << "kafka_mock_cluster: cannot create " << topic << ": " << rd_kafka_err2str(err)
                << "\n";
      return 1;
    }
  }
  std::cout << rd_kafka_mock_cluster_bootstraps(cluster) << std::endl;
  char buffer[256];
  while (::read(0, buffer, sizeof buffer) > 0) {
  }
  rd_kafka_mock_cluster_destroy(cluster);
  rd_kafka_destroy(handle);
  return 0;
}
