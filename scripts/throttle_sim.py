"""What one caller does to everybody else on one route of API Gateway, with the edge off.

API Gateway throttles each route with a token bucket (ThrottlingRateLimit tokens a second, at most
ThrottlingBurstLimit stored) that every caller draws from. This simulates one minute of Poisson
arrivals, millisecond by millisecond: one heavy caller at `r` requests/s and the other users together
at `o`, and prints the share of the others' requests refused with 429. docs/security.md quotes it.

    python3 scripts/throttle_sim.py [RATE_LIMIT] [BURST_LIMIT]
"""

import random
import sys


def refused_share(rate, burst, heavy, others, seconds=60, seed=7):
    rng = random.Random(seed)
    tokens = float(burst)
    sent = refused = 0
    for _ in range(seconds * 1000):
        tokens = min(burst, tokens + rate / 1000)
        arrivals = ["heavy"] * poisson(rng, heavy / 1000) + ["other"] * poisson(rng, others / 1000)
        rng.shuffle(arrivals)
        for who in arrivals:
            admitted = tokens >= 1
            if admitted:
                tokens -= 1
            if who == "other":
                sent += 1
                refused += not admitted
    return refused / max(sent, 1)


def poisson(rng, mean):
    # Knuth's method; the means here are well below 1 a millisecond.
    limit, k, p = pow(2.718281828459045, -mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def main():
    rate = float(sys.argv[1]) if len(sys.argv) > 1 else 100
    burst = float(sys.argv[2]) if len(sys.argv) > 2 else 200
    print(f"one route: ThrottlingRateLimit {rate:g}/s, ThrottlingBurstLimit {burst:g}; one minute simulated")
    print("heavy caller req/s | others req/s | others' requests refused (429)")
    for heavy in (0, 10, 50, 90, 150, 300, 1000):
        for others in (20, 80):
            share = refused_share(rate, burst, heavy, others)
            print(f"{heavy:>18} | {others:>12} | {share:7.1%}")


main()
