// report_cxx: a C++ workload for the `pyperf report` goldens: namespaces, templates, virtual methods, a
// lambda and std::sort all reach the probed extern "C" leaf, so the call chains hold demangled C++ names.
#include <algorithm>
#include <cstdio>
#include <vector>

extern "C" __attribute__((noinline)) int rpt_cxx_leaf(int x)
{
	static volatile int sink;
	sink += x;
	return x & 7;
}

namespace rpt {

struct Shape {
	virtual ~Shape() {}
	virtual int area(int k) const = 0;
};

struct Square : Shape {
	int area(int k) const override { return rpt_cxx_leaf(k) * k; }
};

struct Circle : Shape {
	__attribute__((noinline)) int area(int k) const override { return rpt_cxx_leaf(k + 1) + 3; }
};

template <typename T> struct Accumulator {
	T total{};
	__attribute__((noinline)) void add(const Shape &s, T k) { total += s.area(static_cast<int>(k)); }
};

__attribute__((noinline)) int sort_values(std::vector<int> &v)
{
	std::sort(v.begin(), v.end(), [](int a, int b) { return rpt_cxx_leaf(a) + a < rpt_cxx_leaf(b) + b; });
	return v.front();
}

}  // namespace rpt

int main()
{
	rpt::Square sq;
	rpt::Circle ci;
	rpt::Accumulator<long> acc;
	for (int i = 0; i < 50; i++)
		acc.add(i % 3 ? static_cast<const rpt::Shape &>(sq) : ci, i);
	std::vector<int> v;
	for (int i = 0; i < 12; i++)
		v.push_back((i * 7) % 12);
	int first = rpt::sort_values(v);
	std::printf("%ld %d\n", acc.total, first);
	return 0;
}
