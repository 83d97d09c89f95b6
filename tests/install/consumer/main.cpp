// Uses an installed Sluice exactly as an outside project would.
#include <iostream>
#include <numeric>
#include <sluice/sluice.hpp>
#include <vector>

int main() {
  sluice::Context sc("local[2]", "consumer");
  std::vector<int> squares =
      sc.parallelize(std::vector<int>{1, 2, 3, 4, 5}, 2).map([](int x) { return x * x; }).collect();
  const int sum = std::accumulate(squares.begin(), squares.end(), 0);
  std::cout << "sum of squares: " << sum << '\n';
  return sum == 55 ? 0 : 1;
}
