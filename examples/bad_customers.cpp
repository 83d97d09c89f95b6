// Bad customers: joins each batch of incoming transactions with a static RDD that says whether
// each customer is good or bad, and keeps only the transactions of good customers.
//
// Translates seed 000 (spark_streaming_course_notes), "Detecting Bad Customers" (test_join.py):
//   PySpark                                     Sluice
//   StreamingContext(SparkContext(), 1)         sluice::StreamingContext ssc(sc, 1 s)
//   5 x parallelize([(id, None) for id 0..9])   5 x parallelize(Transaction(id, nullopt))
//   customers = [(0, True), (1, False), ...]    customers: (id, id % 2 == 0)
//   ssc.queueStream(transaction_rdd_queue)      ssc.queueStream(transaction_rdd_queue)
//                                               (or --port: lines from localhost:PORT)
//   .transform(rdd.join(customer_rdd))          .transform(rdd.join(customer_rdd))
//   .filter(is_good_customer)                   .filter(is_good_customer)
//   ds.pprint()                                 ds.pprint():  (0, (None, True))
//   ssc.start(); time.sleep(6); ssc.stop()      ssc.start(); --seconds 6
// The seed's progress prints and its pprint of the RDD queue are left out.
//
// Usage: bad_customers [--master local[N]] [--batch-ms N] [--seconds N] [--port PORT]
// By default the transactions come from a queue of five batches, one transaction of each
// customer 0..9 per batch, with no amount. With --port they are lines "CUSTOMER_ID [AMOUNT]"
// read from localhost:PORT (other lines are skipped):
//   build/release/examples/bad_customers --seconds 6     # prints (0, (None, True)), (2, ...)
//   nc -lk 9999 & build/release/examples/bad_customers --port 9999
// Runs until Ctrl-C (a graceful stop), or for --seconds N.
#include <charconv>
#include <chrono>
#include <deque>
#include <iostream>
#include <optional>
#include <sluice/sluice.hpp>
#include <sluice/streaming.hpp>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "example_cli.hpp"

namespace {

// (customer_id, amount); the amount is None for the queued test transactions.
using Transaction = std::pair<int, std::optional<double>>;

// "CUSTOMER_ID [AMOUNT]" -> one transaction; anything else -> none.
std::vector<Transaction> parseTransaction(const std::string& line) {
  std::istringstream in(line);
  std::string id_text;
  if (!(in >> id_text)) return {};
  int id = 0;
  auto [end, ec] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), id);
  if (ec != std::errc() || end != id_text.data() + id_text.size()) return {};
  std::optional<double> amount;
  if (double value = 0; in >> value) amount = value;
  return {Transaction(id, amount)};
}

}  // namespace

int main(int argc, char** argv) {
  examples::CommonOptions options{.master = "local[2]"};
  int port = 0;  // 0: the queue of test transactions
  CLI::App app(
      "Joins each batch of transactions with a table of good and bad customers and keeps those "
      "of the good ones.",
      "bad_customers");
  examples::addCommonOptions(app, options);
  app.add_option("--port", port,
                 "Read lines \"CUSTOMER_ID [AMOUNT]\" from localhost:PORT instead of the queue of "
                 "test transactions")
      ->transform(examples::numberIn(0, 65535, "a port number, or 0 for the queue"));
  if (auto status = examples::parse(app, argc, argv)) return *status;

  try {
    sluice::Context sc(options.master, "BadCustomers");
    sluice::StreamingContext ssc(sc, options.batch());

    // The stream of customer transactions: a prepared queue for testing, or a socket.
    auto make_transactions = [&]() {
      if (port > 0) return ssc.socketTextStream("localhost", port).flatMap(parseTransaction);
      std::deque<sluice::RDD<Transaction>> transaction_rdd_queue;
      for (int i = 0; i < 5; ++i) {
        std::vector<Transaction> transactions;
        for (int customer_id = 0; customer_id < 10; ++customer_id) {
          transactions.emplace_back(customer_id, std::nullopt);
        }
        transaction_rdd_queue.push_back(ssc.sparkContext().parallelize(transactions));
      }
      return ssc.queueStream(transaction_rdd_queue);
    };
    auto transactions = make_transactions();

    // A batch RDD of (customer_id, is_good_customer): the even customers are good.
    std::vector<std::pair<int, bool>> customers;
    for (int customer_id = 0; customer_id < 10; ++customer_id) {
      customers.emplace_back(customer_id, customer_id % 2 == 0);
    }
    auto customer_rdd = ssc.sparkContext().parallelize(customers);

    // Join every batch with the customers, then drop the transactions of bad customers.
    auto ds = transactions
                  .transform([customer_rdd](const sluice::RDD<Transaction>& rdd) {
                    return rdd.join(customer_rdd);
                  })
                  .filter([](const auto& customer) {
                    const auto& [customer_id, data] = customer;
                    const auto& [customer_data, is_good_customer] = data;
                    return is_good_customer;
                  });
    ds.pprint();

    examples::runUntilStopped(ssc, options);
  } catch (const std::exception& e) {
    std::cerr << "bad_customers: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
