//! Part sizing under S3's multipart limits: parts of 5 MiB to 5 GiB (the last may be smaller), at most
//! 10,000 of them. The preferred size grows with the file so that huge files still fit.

pub const MIB: u64 = 1024 * 1024;
pub const TIB: u64 = 1024 * 1024 * MIB;
pub const MIN_PART_SIZE: u64 = 5 * MIB;
pub const MAX_PART_SIZE: u64 = 5 * 1024 * MIB;
pub const MAX_PARTS: u64 = 10_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartPlan {
    pub part_size: u64,
    pub total_parts: u32,
}

impl PartPlan {
    /// The plan for `file_size` bytes, or `None` when no part size within S3's limits can hold it.
    pub fn for_file(file_size: u64, preferred: u64) -> Option<Self> {
        if file_size == 0 {
            return None;
        }
        let needed = file_size.div_ceil(MAX_PARTS);
        // Whole MiB keep part boundaries easy to reason about for clients.
        let part_size = preferred.max(MIN_PART_SIZE).max(needed).div_ceil(MIB) * MIB;
        if part_size > MAX_PART_SIZE {
            return None;
        }
        let total_parts = file_size.div_ceil(part_size);
        Some(Self {
            part_size,
            total_parts: u32::try_from(total_parts).ok()?,
        })
    }

    /// The size part `number` (1-based) must have.
    pub fn expected_size(&self, file_size: u64, number: u32) -> u64 {
        if number < self.total_parts {
            self.part_size
        } else {
            file_size - self.part_size * u64::from(self.total_parts - 1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1024 * MIB;
    const TIB: u64 = 1024 * GIB;

    fn plan(size: u64) -> PartPlan {
        PartPlan::for_file(size, 8 * MIB).unwrap()
    }

    #[test]
    fn zero_bytes_has_no_plan() {
        assert_eq!(PartPlan::for_file(0, 8 * MIB), None);
    }

    #[test]
    fn one_byte_is_one_part() {
        assert_eq!(
            plan(1),
            PartPlan {
                part_size: 8 * MIB,
                total_parts: 1
            }
        );
        assert_eq!(plan(1).expected_size(1, 1), 1);
    }

    #[test]
    fn five_mib_edges() {
        let p = PartPlan::for_file(5 * MIB, 5 * MIB).unwrap();
        assert_eq!((p.part_size, p.total_parts), (5 * MIB, 1));
        let p = PartPlan::for_file(5 * MIB + 1, 5 * MIB).unwrap();
        assert_eq!((p.part_size, p.total_parts), (5 * MIB, 2));
        assert_eq!(p.expected_size(5 * MIB + 1, 1), 5 * MIB);
        assert_eq!(p.expected_size(5 * MIB + 1, 2), 1);
    }

    #[test]
    fn preferred_below_minimum_is_raised() {
        assert_eq!(
            PartPlan::for_file(100 * MIB, MIB).unwrap().part_size,
            5 * MIB
        );
    }

    #[test]
    fn fifty_gib_keeps_preferred_size() {
        let p = plan(50 * GIB);
        assert_eq!(p.part_size, 8 * MIB);
        assert_eq!(p.total_parts, 6400);
    }

    #[test]
    fn part_size_grows_to_stay_within_10000_parts() {
        let p = plan(100 * GIB);
        assert!(p.total_parts <= 10_000);
        assert_eq!(p.part_size % MIB, 0);
        assert_eq!(p.part_size, 11 * MIB);
    }

    #[test]
    fn five_tib_fits() {
        let p = plan(5 * TIB);
        assert!(p.total_parts <= 10_000);
        assert!(p.part_size <= MAX_PART_SIZE);
        assert!(p.part_size * u64::from(p.total_parts) >= 5 * TIB);
        let last = p.expected_size(5 * TIB, p.total_parts);
        assert!(last > 0 && last <= p.part_size);
    }

    #[test]
    fn largest_possible_object_and_just_over() {
        let max = MAX_PART_SIZE * MAX_PARTS;
        let p = plan(max);
        assert_eq!((p.part_size, p.total_parts), (MAX_PART_SIZE, 10_000));
        assert_eq!(PartPlan::for_file(max + 1, 8 * MIB), None);
    }

    #[test]
    fn sizes_add_up_for_many_files() {
        for size in [
            1,
            7,
            5 * MIB - 1,
            8 * MIB,
            8 * MIB + 1,
            3 * GIB + 12345,
            81 * GIB + 3,
        ] {
            let p = plan(size);
            let total: u64 = (1..=p.total_parts).map(|n| p.expected_size(size, n)).sum();
            assert_eq!(total, size, "size {size}");
        }
    }
}
