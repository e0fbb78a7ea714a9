#include <iostream>
int main() { std::cout << "seke " SEKE_VERSION "\n"; return 0; }
