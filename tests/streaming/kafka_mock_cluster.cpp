// A Kafka cluster for the tests: librdkafka's mock cluster (no Kafka broker is packaged in
// Debian), hosted by a process of its own so that a job under test can be killed while the
// cluster and its data live on. It listens on 127.0.0.1, prints its bootstrap servers on one
// line, and runs until its standard input closes (or SIGTERM).
// It also produces for the kill harness: each input line "TOPIC PARTITION KEY VALUE" (no spaces
// inside the fields) is produced to that partition; a line "flush" waits until every record
// produced so far is written and answers "flushed"; "down" and "up" take every broker down
// (connections closed, new ones refused) and up again, each answered "ok".
//
// Usage: kafka_mock_cluster BROKERS TOPIC:PARTITIONS...
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>

namespace {
int failed_deliveries = 0;  // the producer's delivery callbacks run on the main thread (poll)
}  // namespace

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
  const int brokers = std::atoi(argv[1]);  // the mock cluster numbers them 1..brokers
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(handle, brokers);
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
  const std::string bootstraps = rd_kafka_mock_cluster_bootstraps(cluster);
  rd_kafka_conf_t* producer_conf = rd_kafka_conf_new();
  rd_kafka_conf_set(producer_conf, "bootstrap.servers", bootstraps.c_str(), error, sizeof error);
  // A record whose delivery failed is a gap the harness would blame on the job: "flush" says so.
  rd_kafka_conf_set_dr_msg_cb(producer_conf,
                              [](rd_kafka_t*, const rd_kafka_message_t* message, void*) {
                                if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) ++failed_deliveries;
                              });
  rd_kafka_t* producer = rd_kafka_new(RD_KAFKA_PRODUCER, producer_conf, error, sizeof error);
  if (producer == nullptr) {
    std::cerr << "kafka_mock_cluster: " << error << "\n";
    return 1;
  }
  std::cout << bootstraps << std::endl;
  std::string line;
  int status = 0;
  while (std::getline(std::cin, line)) {
    if (line == "flush") {
      const rd_kafka_resp_err_t err = rd_kafka_flush(producer, 60000);
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        std::cout << "flush failed: " << rd_kafka_err2str(err) << std::endl;
      } else if (failed_deliveries > 0) {
        std::cout << failed_deliveries << " records were not delivered" << std::endl;
      } else {
        std::cout << "flushed" << std::endl;
      }
      continue;
    }
    if (line == "down" || line == "up") {
      for (int broker = 1; broker <= brokers; ++broker) {
        if (line == "down") {
          rd_kafka_mock_broker_set_down(cluster, broker);
        } else {
          rd_kafka_mock_broker_set_up(cluster, broker);
        }
      }
      std::cout << "ok" << std::endl;
      continue;
    }
    std::istringstream fields(line);
    std::string topic, key, value;
    int partition = 0;
    if (!(fields >> topic >> partition >> key >> value)) {
      std::cerr << "kafka_mock_cluster: '" << line << "' is not TOPIC PARTITION KEY VALUE\n";
      status = 2;
      break;
    }
    rd_kafka_resp_err_t err;
    do {
      err = rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topic.c_str()),
                              RD_KAFKA_V_PARTITION(partition),
                              RD_KAFKA_V_KEY(key.data(), key.size()),
                              RD_KAFKA_V_VALUE(value.data(), value.size()),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) rd_kafka_poll(producer, 100);
    } while (err == RD_KAFKA_RESP_ERR__QUEUE_FULL);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::cerr << "kafka_mock_cluster: cannot produce: " << rd_kafka_err2str(err) << "\n";
      status = 1;
      break;
    }
    rd_kafka_poll(producer, 0);
  }
  rd_kafka_flush(producer, 60000);
  rd_kafka_destroy(producer);
  rd_kafka_mock_cluster_destroy(cluster);
  rd_kafka_destroy(handle);
  return status;
}
