//! Typed objects read what the program's own readers read (tasks, modules), by
//! member path instead of offsets, on every fixture; bounds and bad addresses
//! are errors.

use coroner_program::{Object, ObjectError, Program, Value};
use coroner_testdata::{crash_dir, shipped_dumps, CRASHES};

#[test]
fn tasks_and_modules_read_through_objects_equal_the_programs_readers() {
    for crash in CRASHES {
        let dump = shipped_dumps(crash).into_iter().next().unwrap();
        let program = Program::open(&dump, None).unwrap();
        let types = program.types().unwrap();
        let task_struct = types.find("task_struct").unwrap();
        let tasks = program.tasks().unwrap();
        assert!(tasks.len() > 40, "{crash}: {} tasks", tasks.len());
        for task in &tasks {
            let object = Object::new(&program, types, task_struct, task.address);
            let pid = object.member("pid").unwrap();
            assert_eq!(
                pid.address(),
                task.address + types.offset_of("task_struct", "pid").unwrap()
            );
            assert_eq!(pid.read_signed().unwrap(), i128::from(task.pid), "{crash}");
            assert_eq!(
                object.member("comm").unwrap().c_string(16).unwrap(),
                task.comm
            );
            if task.pid > 0 {
                let parent = object.member("real_parent").unwrap().deref().unwrap();
                let ppid = parent.member("tgid").unwrap().read_signed().unwrap();
                assert_eq!(ppid, i128::from(task.ppid), "{crash}: {}", task.pid);
            }
        }
        let module = types.find("module").unwrap();
        assert!(!program.modules().is_empty());
        for m in program.modules() {
            let object = Object::new(&program, types, module, m.address);
            let read = |path: &str| object.member(path).unwrap().read_unsigned().unwrap();
            assert_eq!(object.member("name").unwrap().c_string(56).unwrap(), m.name);
            assert_eq!(read("core_layout.base"), u128::from(m.base));
            assert_eq!(read("core_layout.size"), u128::from(m.size));
            // Bitfields (`unsigned int x : 1`) of a live module's kobject.
            assert_eq!(read("mkobj.kobj.state_initialized"), 1, "{}", m.name);
            assert_eq!(read("mkobj.kobj.state_remove_uevent_sent"), 0, "{}", m.name);
            let Value::Composite(fields) = object.value().unwrap() else {
                panic!("struct module is a struct");
            };
            let list = &fields
                .iter()
                .find(|f| f.name.as_deref() == Some("list"))
                .unwrap();
            let Value::Composite(links) = &list.value else {
                panic!("module.list is a struct");
            };
            let Value::Pointer(next) = &links[0].value else {
                panic!("list.next is a pointer");
            };
            let offset = types.offset_of("module", "list").unwrap();
            assert_eq!(next.address, program.read_u64(m.address + offset).unwrap());
        }
    }
}

#[test]
fn bounds_kinds_and_bad_addresses_are_errors() {
    let program = Program::open(&crash_dir("mod-null").join("vmcore.mdf-d31-zlib"), None).unwrap();
    let types = program.types().unwrap();
    let init = program.address_of("init_task").unwrap();
    let task = Object::new(&program, types, types.find("task_struct").unwrap(), init);
    let links = task.member("pid_links").unwrap();
    assert!(links.element(3).is_ok());
    assert!(matches!(
        links.element(4),
        Err(ObjectError::Index { index: 4, .. })
    ));
    assert!(matches!(
        task.member("no_such"),
        Err(ObjectError::NoMember { .. })
    ));
    assert!(matches!(
        task.member("pid").unwrap().deref(),
        Err(ObjectError::Kind { .. })
    ));
    assert!(matches!(
        task.read_unsigned(),
        Err(ObjectError::Kind { .. })
    ));
    let comm = task.member("comm").unwrap();
    assert_eq!(comm.type_name(), "char [16]");
    assert_eq!(
        comm.element(0).unwrap().read_unsigned().unwrap(),
        u128::from(b's')
    );
    assert_eq!(comm.c_string(16).unwrap(), "swapper/0");
    let nowhere = Object::new(&program, types, task.type_id(), 0x10);
    let err = nowhere.value().unwrap_err();
    assert!(matches!(err, ObjectError::Read(_)));
    assert!(err.to_string().contains("0x10"), "{err}");
}
